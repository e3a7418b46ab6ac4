#!/usr/bin/env node
// vml-bridge: the host side. Not built yet; it says so instead of pretending.
process.stderr.write("vml-bridge: not built yet (snapshot exchange with guests comes in a later release)\n");
process.exitCode = 1;
