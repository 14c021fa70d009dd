import { defineConfig } from "vite";

// Relative asset URLs, so the page works under --web-base-path.
export default defineConfig({
  base: "./",
  build: {
    target: "es2020",
    chunkSizeWarningLimit: 1000,
  },
});
