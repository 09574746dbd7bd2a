// The official MCP TypeScript SDK as a client of todo-api's /mcp: connect over Streamable HTTP
// with a bearer token, list the tools, then add, list, complete and delete a task.
//
// Usage: node mcp-client.mjs <server base URL> <bearer token>
// Prints one JSON line (what it saw) on stdout; exit code 1 and the error on stderr on failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error("usage: node mcp-client.mjs <base URL> <token>");
  process.exit(2);
}

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", base), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "todo-api-interop", version: "1.0.0" });
  await client.connect(transport);

  const { tools } = await client.listTools();
  const call = async (name, args) => {
    // The SDK checks structuredContent against the tool's outputSchema.
    const result = await client.callTool({ name, arguments: args });
    if (result.isError) {
      throw new Error(`${name} failed: ${JSON.stringify(result)}`);
    }
    return result;
  };

  const added = await call("add_task", {
    title: "Call mum",
    priority: "high",
    tags: ["family"],
    due_at: "2026-03-29T18:00:00+02:00",
    time_zone: "Europe/Berlin",
    recurrence: "FREQ=WEEKLY;BYDAY=SU",
  });
  const id = added.structuredContent.task.id;
  const listed = await call("list_tasks", { status: "pending" });
  const completed = await call("complete_task", { task_id: id });
  const deleted = await call("delete_task", { task_id: id });
  const invalid = await client.callTool({ name: "add_task", arguments: { title: "" } });

  console.log(
    JSON.stringify({
      protocol_version: transport.protocolVersion ?? null,
      server: client.getServerVersion(),
      tools: tools.map((t) => t.name).sort(),
      output_schemas: tools.every((t) => t.outputSchema?.type === "object"),
      added_id: id,
      listed_ids: listed.structuredContent.tasks.map((t) => t.id),
      listed_text: listed.content[0]?.text ?? null,
      completed: completed.structuredContent.task.complete,
      next_occurrence_id: completed.structuredContent.next_occurrence_id,
      deleted: deleted.structuredContent,
      invalid: { isError: invalid.isError, body: JSON.parse(invalid.content[0].text) },
    }),
  );
  await client.close();
}

main().catch((error) => {
  console.error(error?.stack ?? String(error));
  process.exit(1);
});
