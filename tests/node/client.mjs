// An independent MCP client for the wire-compatibility test: the TypeScript SDK's `Client` over
// `StdioClientTransport`, as Claude Code's own stack would drive a channel server.
//
// usage: node client.mjs '{"command": "...", "args": [...], "env": {...}}'
//
// Prints one JSON object per line on stdout, each with a "step":
//   log           a line the server wrote to stderr
//   connected     initialize done (serverInfo, capabilities, instructions)
//   tools         tools/list result (names)
//   status        tools/call status result
//   discover      the answer to a server/discover request (expected: error -32601)
//   ready         all of the above done; events can be posted now
//   notification  a notifications/claude/channel from the server (params)
//   closed        stdin ended and the client closed the connection
//   error         something failed (then exit status 1)
// Closing this script's stdin closes the client (and so the server) and exits 0.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { EmptyResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { createInterface } from "node:readline";

const CHANNEL_METHOD = "notifications/claude/channel";

function emit(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

async function main() {
  const spec = JSON.parse(process.argv[2] ?? "null");
  if (!spec || typeof spec.command !== "string") {
    throw new Error('usage: node client.mjs \'{"command": "...", "args": [...], "env": {...}}\'');
  }
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args ?? [],
    env: spec.env ?? {},
    stderr: "pipe",
  });
  createInterface({ input: transport.stderr }).on("line", (line) => emit("log", { line }));

  const client = new Client({ name: "mcp-channels-compat", version: "0.0.0" });
  client.fallbackNotificationHandler = async (notification) => {
    if (notification.method === CHANNEL_METHOD) {
      emit("notification", { params: notification.params });
    }
  };

  await client.connect(transport);
  emit("connected", {
    serverInfo: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
    instructions: client.getInstructions(),
  });

  const listed = await client.listTools();
  emit("tools", { tools: listed.tools.map((tool) => tool.name) });

  const status = await client.callTool({ name: "status", arguments: {} });
  emit("status", { result: status });

  try {
    const answer = await client.request(
      { method: "server/discover", params: { protocolVersion: "2026-07-28" } },
      EmptyResultSchema,
    );
    emit("discover", { result: answer });
  } catch (error) {
    emit("discover", { error: { code: error.code, message: error.message } });
  }

  emit("ready");

  const stdin = createInterface({ input: process.stdin });
  await new Promise((resolve) => stdin.on("close", resolve));
  await client.close();
  emit("closed");
}

main().then(
  () => process.exit(0),
  (error) => {
    emit("error", { message: String(error?.stack ?? error) });
    process.exit(1);
  },
);
