// A Git server on loopback (smart HTTP through `git http-backend`) that serves the
// working tree as it is on disk, as one commit on branch `main`, so local Flux
// deploys what a developer has not committed yet. Re-publish after a change.
import { execFile, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { repoRoot } from "../../../scripts/lib/paths.ts";

export interface GitServer {
  /** Clone URL of the served repository, e.g. http://127.0.0.1:PORT/setup.git */
  url: string;
  branch: "main";
  /**
   * Commits the working tree of the source (uncommitted and untracked files
   * included, ignored ones left out) plus `files` (repository path → content,
   * not written to disk) and makes it the tip of `main`. Returns the commit.
   */
  publish(files?: Record<string, string>): Promise<string>;
  /** The server goes down (connections refused) and comes back on the same port, with the same commits. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export interface GitServerOptions {
  /** The working tree to serve; default this repository. */
  source?: string;
}

const identity = {
  GIT_AUTHOR_NAME: "local git server",
  GIT_AUTHOR_EMAIL: "local@127.0.0.1",
  GIT_COMMITTER_NAME: "local git server",
  GIT_COMMITTER_EMAIL: "local@127.0.0.1",
};

function git(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      "git",
      args,
      { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(
            new Error(
              `expected \`git ${args.join(" ")}\` in ${opts.cwd} to succeed; it failed: ${stderr.trim() || error.message}`,
            ),
          );
        else resolvePromise(stdout.trim());
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const source = options.source ?? repoRoot;
  const dir = mkdtempSync(join(tmpdir(), "git-server-"));
  const bare = join(dir, "setup.git");
  const index = join(dir, "index");
  let env: NodeJS.ProcessEnv;
  let sourceIndex: string;
  try {
    await git(["init", "--quiet", "--bare", "--initial-branch=main", bare], { cwd: dir });
    // New objects land in the temp repository; the source's objects are only read
    // (alternates), so publishing never writes into the developer's repository.
    const sourceObjects = resolveGitPath(source, await git(["rev-parse", "--git-path", "objects"], { cwd: source }));
    writeFileSync(join(bare, "objects/info/alternates"), `${sourceObjects}\n`);
    // Starting from the source's index lets `git add` skip files whose stat is unchanged.
    sourceIndex = resolveGitPath(source, await git(["rev-parse", "--git-path", "index"], { cwd: source }));
    env = {
      ...identity,
      GIT_INDEX_FILE: index,
      GIT_OBJECT_DIRECTORY: join(bare, "objects"),
      GIT_ALTERNATE_OBJECT_DIRECTORIES: sourceObjects,
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let parent: string | undefined;
  let publishing: Promise<string> = Promise.resolve("");
  const publishNow = async (files: Record<string, string>): Promise<string> => {
    if (existsSync(sourceIndex)) copyFileSync(sourceIndex, index);
    else rmSync(index, { force: true });
    await git(["add", "--all", "."], { cwd: source, env });
    for (const [path, content] of Object.entries(files)) {
      const blob = await git(["hash-object", "-w", "--stdin"], { cwd: source, env, input: content });
      await git(["update-index", "--add", "--cacheinfo", `100644,${blob},${path}`], { cwd: source, env });
    }
    const tree = await git(["write-tree"], { cwd: source, env });
    const commit = await git(
      ["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", "working tree as published for local Flux"],
      { cwd: source, env },
    );
    await git(["update-ref", "refs/heads/main", commit], { cwd: bare, env: { ...identity } });
    parent = commit;
    return commit;
  };

  const http = createServer((req, res) => serveCgi(dir, req, res));
  await new Promise<void>((ok, fail) => {
    http.once("error", fail);
    http.listen(0, "127.0.0.1", () => ok());
  });
  const port = (http.address() as { port: number }).port;
  // A test process that dies without stop() still removes the temp repository.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", removeDir);

  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}/setup.git`,
    branch: "main",
    publish: (files = {}) => {
      // One publish at a time: they share the temp index.
      publishing = publishing.catch(() => "").then(() => publishNow(files));
      return publishing;
    },
    down: async () => {
      if (!http.listening) return;
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    },
    up: async () => {
      if (http.listening) return;
      await new Promise<void>((ok, fail) => {
        http.once("error", fail);
        http.listen(port, "127.0.0.1", () => ok());
      });
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      http.closeAllConnections();
      if (http.listening) await new Promise((r) => http.close(r));
      await publishing.catch(() => undefined);
      process.removeListener("exit", removeDir);
      removeDir();
    },
  };
}

function resolveGitPath(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/** Runs `git http-backend` as a CGI program for one request. */
function serveCgi(projectRoot: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const header = (name: string) => (req.headers[name] as string | undefined) ?? "";
  const child = spawn("git", ["http-backend"], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: "HTTP/1.1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: header("content-type"),
      CONTENT_LENGTH: header("content-length"),
      HTTP_CONTENT_ENCODING: header("content-encoding"),
      HTTP_GIT_PROTOCOL: header("git-protocol"),
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  req.pipe(child.stdin);
  res.on("close", () => child.kill());
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.on("error", (error) => {
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end(`expected to run git http-backend; it failed: ${error.message}\n`);
  });

  // CGI output: header lines, a blank line, then the body.
  let head = Buffer.alloc(0);
  let inBody = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (inBody) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf("\r\n\r\n");
    const lf = head.indexOf("\n\n");
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (end < 0) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString().split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 500;
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    inBody = true;
    if (end < head.length) res.write(head.subarray(end));
  });
  child.on("close", (code) => {
    if (!inBody) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`git http-backend exited with code ${code} before sending headers: ${stderr.trim()}\n`);
      return;
    }
    res.end();
  });
}
