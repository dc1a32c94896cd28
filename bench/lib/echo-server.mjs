// Echo servers for bench/ws-transfer.bench.ts, in their own process: a raw TCP echo and a
// WebSocket echo (ws, binary frames sent back as received). Prints {"tcp": port, "ws": port}.
import net from 'node:net';
import { WebSocketServer } from 'ws';

const tcp = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.pipe(socket);
});
await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false });
await new Promise((resolve) => wss.once('listening', resolve));
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
console.log(JSON.stringify({ tcp: tcp.address().port, ws: wss.address().port }));
process.on('SIGTERM', () => process.exit(0));
