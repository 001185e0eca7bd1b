import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The hub serves dist/ at / and dist/assets/ with long cache lifetimes (file names are hashed).
export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2020",
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npm run dev` talks to a hub running on the default port.
    proxy: {
      "/api": { target: "http://127.0.0.1:8123", ws: true },
    },
  },
});
