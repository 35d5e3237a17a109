import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Built files are served by Django (whitenoise) under /static/; index.html by the SPA catch-all view.
export default defineConfig({
  base: "/static/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, modulePreload: { polyfill: false } },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
