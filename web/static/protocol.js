// Wire constants of the mini-livechat WebSocket protocol (docs/protocol.md): opcodes, error codes
// with texts a person can read, and small helpers that need no DOM.

/** Opcodes, client → server and server → client. */
export const Op = Object.freeze({
  HELLO: 0,
  HEARTBEAT: 1,
  HEARTBEAT_ACK: 2,
  IDENTIFY: 3,
  READY: 4,
  CHANNEL_CREATE: 10,
  CHANNEL_JOIN: 11,
  CHANNEL_LEAVE: 12,
  CHANNEL_UPDATE: 13,
  CHANNEL_DELETE: 14,
  CHANNEL_LIST: 15,
  CHANNEL_INFO: 16,
  HISTORY_LIST: 17,
  MESSAGE_CREATE: 20,
  FLOOR_REQUEST: 30,
  FLOOR_RELEASE: 31,
  FLOOR_PING: 32,
  CHANNEL_EVENT: 100,
  MESSAGE_EVENT: 101,
  FLOOR_GRANTED: 110,
  FLOOR_DENY: 111,
  FLOOR_TAKEN: 112,
  FLOOR_IDLE: 113,
  FLOOR_REVOKE: 114,
  FLOOR_QUEUE_POS_INFO: 115,
  FLOOR_PONG: 116,
  ACK: 200,
  ERROR: 201,
});

/** Readable text for every ERROR code of docs/protocol.md. */
export const ErrorText = Object.freeze({
  1000: "Not signed in yet — sign in first.",
  1001: "The token was refused (invalid, expired, or for another user).",
  1002: "Already signed in on this connection.",
  1003: "The server did not understand that request (unknown operation).",
  1004: "The request was malformed (bad JSON, field or id).",
  1005: "Too many requests — slow down a little.",
  1006: "That message is too large for the server.",
  1007: "That priority is not allowed by your token.",
  2000: "No such channel.",
  2001: "The channel is full.",
  2002: "You are not permitted to do that.",
  2003: "You have already joined that channel.",
  2004: "You have not joined that channel.",
  2005: "A channel with that id already exists.",
  2006: "The server refused the audio offer (bad SDP); joined without audio.",
  2102: "This server keeps no history of transmissions.",
  3000: "Empty messages are not sent.",
  3001: "The message is too long (2000 characters at most).",
  3002: "You are not a member of that channel.",
  9000: "The server hit an internal error; try again.",
});

/** errorMessage returns "text (code: server reason)" for an ERROR payload. */
export function errorMessage(err) {
  const text = ErrorText[err.code] || "The server answered with an error.";
  return err.reason ? `${text} (${err.code}: ${err.reason})` : `${text} (${err.code})`;
}

/** Readable texts of FLOOR_DENY and FLOOR_REVOKE reasons (docs/floor-control.md). */
export const FloorReasonText = Object.freeze({
  queue_full: "queue full",
  not_member: "not a member",
  already_granted: "you already hold the floor",
  not_holder: "you do not hold the floor",
  listen_only: "you joined listen-only (no microphone); leave and join again with one to talk",
  preempted: "preempted",
  ping_timeout: "ping timeout",
  max_duration: "maximum talk time reached",
  disconnect: "disconnected",
  admin: "revoked by an operator",
});

/** Readable texts of WebSocket close codes the server uses (docs/protocol.md, "Close codes"). */
export const CloseText = Object.freeze({
  1001: "The server is shutting down.",
  1009: "A message was too large; the server closed the connection.",
  4001: "The token was refused.",
  4002: "You signed in somewhere else; this page was disconnected.",
  4003: "The connection timed out (no heartbeat).",
  4004: "Too many bad messages; the server closed the connection.",
});

/** Close codes after which reconnecting would not help (or would fight another tab). */
export const FinalCloseCodes = new Set([4001, 4002]);

/**
 * decodeToken reads a JWT's payload without verifying it. The page uses it only for display
 * (showing the emergency button); the server decides what the token allows.
 */
export function decodeToken(token) {
  try {
    const part = token.split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** maxPriority is the token's max_priority claim, or 100 (docs/protocol.md default). */
export function maxPriority(token) {
  const claims = decodeToken(token);
  const p = claims && Number(claims.max_priority);
  return Number.isInteger(p) ? p : 100;
}

/** backoff returns the reconnect delay in ms for the n-th attempt (0-based), with jitter. */
export function backoff(n) {
  const base = Math.min(10000, 500 * 2 ** Math.min(n, 5));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
