// An independent server for the goes WebSocket client, run by
// node_test.go. Usage: node server.mjs (DEFLATE=1 for permessage-deflate).
// It prints "listening PORT", echoes every message with its type, and on
// "fragments" sends a message in five frames, on "ping" pings and answers
// "pinged" once the pong is back, on "close" closes with 4321. It prints
// "closed CODE" when a client leaves.
import { WebSocketServer } from "ws";

const deflate = process.env.DEFLATE === "1";
const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxPayload: 64 << 20,
});

wss.on("listening", () => console.log("listening " + wss.address().port));

wss.on("connection", (ws, req) => {
  if (req.url !== "/node?x=1" || req.headers["origin"] !== "http://goes.test") {
    ws.close(4000, "unexpected request " + req.url + " origin " + req.headers["origin"]);
    return;
  }
  if (deflate !== (ws.extensions || "").includes("permessage-deflate")) {
    ws.close(4001, "extensions: " + ws.extensions);
    return;
  }
  ws.on("message", (data, isBinary) => {
    const s = isBinary ? "" : data.toString();
    if (s === "fragments") {
      for (let i = 0; i < 5; i++) ws.send(Buffer.alloc(1000, i), { binary: true, fin: i === 4 });
    } else if (s === "ping") {
      ws.once("pong", () => ws.send("pinged"));
      ws.ping("node");
    } else if (s === "close") {
      ws.close(4321, "node says bye");
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on("close", (code) => console.log("closed " + code));
});

setTimeout(() => process.exit(2), 120000).unref();
