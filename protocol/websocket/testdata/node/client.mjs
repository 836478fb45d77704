// An independent client for the goes WebSocket server, run by node_test.go.
// Usage: node client.mjs ws://127.0.0.1:PORT  (the server echoes with the
// same type and closes with 4002 when told "close me").
import WebSocket from "ws";

const url = process.argv[2];
const deflate = process.env.DEFLATE === "1";

function fail(msg) {
  console.error("FAIL: " + msg);
  process.exit(1);
}

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: 64 << 20 });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function nextMessage(ws) {
  return new Promise((resolve) => ws.once("message", (data, isBinary) => resolve({ data, isBinary })));
}

async function echo(ws, payload, binary, name) {
  const got = nextMessage(ws);
  ws.send(payload, { binary });
  const { data, isBinary } = await got;
  if (isBinary !== binary) fail(name + ": type changed");
  if (!Buffer.from(payload).equals(data)) fail(name + `: ${data.length} bytes back, want ${Buffer.from(payload).length}`);
}

const timer = setTimeout(() => fail("timeout"), 60000);
const ws = await open();
if (deflate && !ws.extensions.includes("permessage-deflate")) fail("permessage-deflate not negotiated");

await echo(ws, "hello from node", false, "text");
await echo(ws, Buffer.from([0, 1, 2, 255]), true, "binary");
await echo(ws, "", false, "empty text");
await echo(ws, Buffer.alloc(0), true, "empty binary");
await echo(ws, "héllo wörld ✓", false, "utf8");
const big = Buffer.alloc(16 << 20);
for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
await echo(ws, big, true, "16 MiB");

// fragmentation: three frames, one message
{
  const got = nextMessage(ws);
  ws.send("frag", { fin: false });
  ws.send("men", { fin: false });
  ws.send("ted", { fin: true });
  const { data, isBinary } = await got;
  if (isBinary || data.toString() !== "fragmented") fail("fragmented: got " + data.toString());
}

// ping
{
  const pong = new Promise((resolve) => ws.once("pong", resolve));
  ws.ping("are you there");
  const data = await pong;
  if (data.toString() !== "are you there") fail("pong payload " + data.toString());
}

// the client closes with a code
await new Promise((resolve) => {
  ws.once("close", (code) => {
    if (code !== 4001) fail("close echo code " + code);
    resolve();
  });
  ws.close(4001, "bye from node");
});

// the server closes with a code
{
  const ws2 = await open();
  const closed = new Promise((resolve) => ws2.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws2.send("close me");
  const { code, reason } = await closed;
  if (code !== 4002 || reason !== "as you wish") fail(`server close: ${code} ${reason}`);
}

clearTimeout(timer);
console.log("ok");
