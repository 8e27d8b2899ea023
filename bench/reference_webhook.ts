#!/usr/bin/env bun
// The reference webhook channel: "Minimal Webhook Receiver (TypeScript/Bun)" from the Claude Code
// channels overview (see docs/claude-code-host.md §6), verbatim except that the port
// comes from WEBHOOK_PORT (default 8788, as in the original) so the benchmark can pick a free one.
// run_bench.py copies it next to its node_modules (bench/.reference/webhook.ts) and runs it with Bun.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const mcp = new Server(
  { name: "webhook", version: "0.0.1" },
  {
    capabilities: { experimental: { "claude/channel": {} } },
    instructions:
      'Events from the webhook channel arrive as <channel source="webhook">. Read and act, no reply expected.',
  },
);

await mcp.connect(new StdioServerTransport());

Bun.serve({
  port: Number(process.env.WEBHOOK_PORT ?? 8788),
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = await req.text();
    await mcp.notification({
      method: "notifications/claude/channel",
      params: {
        content: body,
        meta: { path: new URL(req.url).pathname, method: req.method },
      },
    });
    return new Response("ok");
  },
});
