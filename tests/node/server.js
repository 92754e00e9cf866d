// Where the suite finds `minidouble serve`: MINIDOUBLE_BASE_URL when a runner started it
// (tests/test_node.py does, once for every file), else a server of its own on a free port.
import { spawn } from "node:child_process";

export async function baseURL() {
  if (process.env.MINIDOUBLE_BASE_URL) {
    return process.env.MINIDOUBLE_BASE_URL;
  }
  const python = process.env.MINIDOUBLE_PYTHON ?? "python3";
  const server = spawn(python, ["-m", "minidouble", "serve", "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.on("exit", () => server.kill());
  return await new Promise((resolve, reject) => {
    let seen = "";
    server.stdout.on("data", (data) => {
      seen += data;
      const found = seen.match(/serving at (http:\/\/\S+\/v1)/);
      if (found) {
        // Once it listens, neither the child nor its pipe keeps the tests alive: the test
        // process ends when its tests do, and its exit stops the server.
        server.unref();
        server.stdout.unref();
        resolve(found[1]);
      }
    });
    server.on("exit", (code) =>
      reject(new Error(`minidouble serve exited with ${code} before listening; is minidouble installed for ${python}?`)),
    );
  });
}
