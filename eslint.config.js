import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/switch-exhaustiveness-check": "off",
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
  {
    // The protocol core is sans-I/O: it must never reach a socket, a timer, the file system or the DOM.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "src/core is pure: no node:* imports." },
            {
              group: [
                "fs",
                "net",
                "tls",
                "dgram",
                "crypto",
                "events",
                "stream",
                "timers",
                "os",
                "path",
                "buffer",
                "ws",
                "http",
                "https",
              ],
              message: "src/core is pure: no I/O modules.",
            },
            {
              group: [
                "../../transport/*",
                "../../server/*",
                "../../client/*",
                "../../ops/*",
                "../../cli/*",
                "../transport/*",
                "../server/*",
                "../client/*",
                "../ops/*",
                "../cli/*",
              ],
              message: "Imports point inward: src/core imports nothing outside src/core.",
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "setTimeout", message: "Inject timers: the core returns deadlines instead." },
        { name: "setInterval", message: "Inject timers: the core returns deadlines instead." },
        { name: "Date", message: "Inject the clock." },
        { name: "performance", message: "Inject the clock." },
        { name: "process", message: "The core has no process." },
        { name: "Buffer", message: "Use Uint8Array: the core runs in browsers too." },
        { name: "window", message: "The core has no DOM." },
        { name: "document", message: "The core has no DOM." },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "Inject the random source." },
      ],
    },
  },
);
