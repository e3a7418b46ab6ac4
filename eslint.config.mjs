import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  {
    // Only the platform layer may touch the machine; the core is tested on temporary roots through System.
    files: ["agent/core/**/*.ts", "agent/model/**/*.ts", "agent/capture/**/*.ts", "agent/cli/**/*.ts", "agent/daemon/**/*.ts"],
    // The entry points are where a process meets the machine.
    ignores: ["agent/cli/main.ts", "agent/daemon/snapshot-process.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: ["node:fs", "node:fs/promises", "node:child_process", "fs", "child_process", "node:os"],
      }],
      "no-restricted-globals": ["error", "process"],
    },
  },
);
