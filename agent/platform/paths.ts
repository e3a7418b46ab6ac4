// Where the installed package keeps its shipped files (rule sets, package.json).
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";

export const PACKAGE_DIR = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
export const SHIPPED_RULES_DIR = `${PACKAGE_DIR}/rules`;
export const AGENT_VERSION: string = JSON.parse(readFileSync(`${PACKAGE_DIR}/package.json`, "utf8")).version;
