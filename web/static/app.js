// mini-livechat web push-to-talk client. One Client holds the WebSocket session (docs/protocol.md),
// the channel list, and a Room per joined channel; render() draws the state into the page. All
// server text goes into the DOM with textContent only.

import { Op, errorMessage, FloorReasonText, CloseText, FinalCloseCodes, maxPriority, backoff } from "./protocol.js";
import { Microphone, ChannelPeer, INSECURE_SENTENCE } from "./media.js";

const $ = (sel) => document.querySelector(sel);
const REQUEST_TIMEOUT_MS = 10000;
const FLOOR_PING_MS = 2000; // docs/floor-control.md: the holder pings every 2 s
const LIST_REFRESH_MS = 15000; // member counts and floors of channels this page has not joined
const STORE_USER = "lc.user"; // sessionStorage keys: the sign-in survives a reload of the tab
const STORE_TOKEN = "lc.token";
const STORE_LISTEN = "lc.listen"; // "1" when the user chose to listen only
const MAX_MESSAGES = 500; // chat lines kept per channel
const RX_LEVEL_MS = 250; // how often the speaker meter reads getStats
const FLAP_WINDOW_MS = 15000; // a connection ended sooner than this after READY is "short"
const HISTORY_LIMIT = 20; // recent transmissions listed per channel
const URL_MARGIN_MS = 30000; // a recording URL this close to its expiry is fetched anew

/** Room is what the page knows about one joined channel. */
class Room {
  constructor(channelId) {
    this.channelId = channelId;
    this.members = new Map(); // user_id -> priority (null when only a join event named it)
    this.floor = { state: "idle", holder: null, priority: 0 };
    this.me = "idle"; // idle | requesting | talking | queued
    this.queue = null; // {position, size} while queued
    this.notice = null; // {kind: "denied"|"revoked", reason} until the next press or idle floor
    this.messages = [];
    this.peer = null;
    this.media = "connecting"; // connecting | audio | signaling-only | reconnecting
    this.mediaNote = "";
    this.listenOnly = false; // joined with a recvonly offer: hears, cannot talk (FLOOR_DENY listen_only)
    this.listeners = new Set(); // members the JOIN ACK named listen-only
    this.history = []; // recent bursts from HISTORY_LIST, newest first
    this.historyNote = ""; // why there is no list (a server without history)
    this.historyVersion = 0; // bumped when history changes, so the list is drawn only then
    this.historyStale = false; // a burst ended while another channel was on screen
  }
}

class Client {
  constructor() {
    this.userId = "";
    this.token = "";
    this.maxPriority = 100;
    this.ws = null;
    this.conn = "signed-out"; // signed-out | connecting | ready | reconnecting | closed
    this.connNote = "";
    this.sessionId = null;
    this.priority = null;
    this.hbTimer = null;
    this.nonce = 0;
    this.pending = new Map();
    this.attempt = 0;
    this.reconnectTimer = null;
    this.wanted = false;
    this.channels = new Map();
    this.rooms = new Map();
    this.selected = null;
    this.mic = new Microphone();
    this.listenOnly = false; // the user chose "Listen only": no microphone is asked for
    this.holding = null; // {channelId, emergency} while a talk button is held
    this.lastError = null; // {code, text}
    this.finalReason = ""; // set when the server said reconnecting cannot help
    this.readyAt = 0; // when the current connection became ready
    this.flaps = 0; // connections in a row that the server ended soon after READY
    this.framesIn = 0;
    this.lastPong = 0;
    this.pongs = 0; // FLOOR_PONGs received: the server answered the holder's pings
    this.heartbeatAcks = 0;
    this.replaying = null; // {channelId, id} of the burst last played in the replay player
    this.mic.onlevel = (level) => renderLevel(level);
    setInterval(() => this.pingFloors(), FLOOR_PING_MS);
    setInterval(() => this.pollReceiveLevel(), RX_LEVEL_MS);
    setInterval(() => {
      if (this.conn === "ready") this.refreshList();
    }, LIST_REFRESH_MS);
  }

  // ---- connection ----

  signIn(userId, token) {
    this.userId = userId;
    this.token = token;
    this.maxPriority = maxPriority(token);
    this.wanted = true;
    this.attempt = 0;
    this.flaps = 0;
    this.finalReason = "";
    this.connect();
  }

  signOut() {
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    for (const id of [...this.rooms.keys()]) this.dropRoom(id);
    if (this.ws) this.ws.close(1000, "signed out");
    this.ws = null;
    this.conn = "signed-out";
    this.connNote = "";
    this.channels.clear();
    this.mic.close();
    this.mic = new Microphone();
    this.mic.onlevel = (level) => renderLevel(level);
    render();
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.conn = this.attempt > 0 ? "reconnecting" : "connecting";
    render();
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        console.warn("unparsable frame", ev.data);
        return;
      }
      this.framesIn++;
      this.handle(frame.op, frame.d || {});
      render();
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.onClosed(ev.code, ev.reason);
    };
  }

  onClosed(code, reason) {
    this.lastClose = { code, reason };
    clearInterval(this.hbTimer);
    this.ws = null;
    this.sessionId = null;
    for (const [, p] of this.pending) p.reject({ code: 0, reason: "connection lost" });
    this.pending.clear();
    this.stopTalking();
    for (const room of this.rooms.values()) {
      if (room.peer) room.peer.close();
      room.peer = null;
      room.media = "reconnecting";
      room.me = "idle";
      room.queue = null;
    }
    const why = CloseText[code] || (reason ? `Connection closed: ${reason}` : "Connection lost.");
    if (!this.wanted) return;
    // A connection the server ends soon after READY, again and again, is most likely another
    // tab signed in as the same user; lcserver says so with 4002, but a proxy in between may
    // turn any close into 1006: stop after three instead of fighting it.
    const short = this.readyAt && Date.now() - this.readyAt < FLAP_WINDOW_MS;
    this.flaps = short ? this.flaps + 1 : 0;
    this.readyAt = 0;
    const final = FinalCloseCodes.has(code) || this.finalReason || this.flaps >= 3;
    if (final) {
      const text = FinalCloseCodes.has(code)
        ? why + (reason ? ` (${reason})` : "")
        : this.finalReason || "The server keeps ending the connection (signed in somewhere else?).";
      this.wanted = false;
      this.conn = "closed";
      this.connNote = text;
      this.finalReason = "";
      this.flaps = 0;
      if (!this.lastError || FinalCloseCodes.has(code)) this.showError(code, text);
      render();
      return;
    }
    const delay = backoff(this.attempt++);
    this.conn = "reconnecting";
    this.connNote = `${why} Reconnecting in ${(delay / 1000).toFixed(1)} s…`;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    render();
  }

  send(op, d) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ op, d }));
    return true;
  }

  /** request sends op with a nonce and resolves with the ACK's d, or rejects with {code, reason}. */
  request(op, d) {
    const nonce = `n${++this.nonce}`;
    return new Promise((resolve, reject) => {
      if (!this.send(op, { ...d, nonce })) {
        reject({ code: 0, reason: "not connected" });
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(nonce);
        reject({ code: 0, reason: "no answer from the server" });
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(nonce, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  // ---- frames from the server ----

  handle(op, d) {
    switch (op) {
      case Op.HELLO: {
        const every = Number(d.heartbeat_interval) || 10000;
        clearInterval(this.hbTimer);
        this.hbTimer = setInterval(() => this.send(Op.HEARTBEAT, {}), every);
        this.send(Op.IDENTIFY, { user_id: this.userId, token: this.token });
        return;
      }
      case Op.READY:
        this.onReady(d);
        return;
      case Op.HEARTBEAT_ACK:
        this.heartbeatAcks++;
        return;
      case Op.ACK:
      case Op.ERROR: {
        const p = d.nonce && this.pending.get(d.nonce);
        if (p) {
          this.pending.delete(d.nonce);
          op === Op.ACK ? p.resolve(d) : p.reject(d);
        } else if (op === Op.ERROR) {
          // A refused token ends the session: the server closes with 4001 next, but a proxy
          // may turn that close into 1006 (see onClosed), so the ERROR decides.
          if (d.code === 1001) this.finalReason = "The token was refused.";
          this.showError(d.code, errorMessage(d));
        }
        return;
      }
      case Op.CHANNEL_EVENT:
        this.onChannelEvent(d);
        return;
      case Op.MESSAGE_EVENT: {
        const room = this.rooms.get(d.channel_id);
        if (room) {
          room.messages.push(d);
          if (room.messages.length > MAX_MESSAGES) room.messages.shift();
          if (this.selected === d.channel_id) appendChat(d);
        }
        return;
      }
      case Op.FLOOR_GRANTED:
      case Op.FLOOR_DENY:
      case Op.FLOOR_TAKEN:
      case Op.FLOOR_IDLE:
      case Op.FLOOR_REVOKE:
      case Op.FLOOR_QUEUE_POS_INFO:
      case Op.FLOOR_PONG:
        this.onFloor(op, d);
        return;
      default:
        console.warn("unknown op", op, d);
    }
  }

  async onReady(d) {
    this.conn = "ready";
    this.connNote = "";
    this.attempt = 0;
    this.readyAt = Date.now();
    this.sessionId = d.session_id;
    this.priority = d.priority;
    this.clearError();
    render();
    await this.refreshList();
    // After a reconnect, join again every channel this page was in.
    for (const room of this.rooms.values()) {
      if (room.media === "reconnecting") this.join(room.channelId, true);
    }
  }

  async refreshList() {
    try {
      const ack = await this.request(Op.CHANNEL_LIST, {});
      this.channels.clear();
      for (const ch of ack.channels || []) this.channels.set(ch.channel_id, ch);
      // The rooms' floors are fresher (floor events) than a list that crossed them in flight.
      for (const room of this.rooms.values()) this.syncChannelFloor(room);
    } catch (err) {
      if (err.code) this.showError(err.code, errorMessage(err));
    }
    render();
  }

  onChannelEvent(d) {
    const id = d.channel_id;
    const ch = d.channel;
    switch (d.event) {
      case "create":
      case "update":
        if (ch) this.channels.set(id, ch);
        break;
      case "delete":
        this.channels.delete(id);
        if (this.rooms.has(id)) {
          this.dropRoom(id);
          this.showError(0, `Channel ${id} was deleted.`);
        }
        break;
      case "join":
      case "leave": {
        const known = this.channels.get(id);
        if (ch) this.channels.set(id, ch);
        else if (known) known.member_count = Math.max(0, (known.member_count || 0) + (d.event === "join" ? 1 : -1));
        const room = this.rooms.get(id);
        if (room && d.user_id) {
          if (d.event === "join") {
            if (!room.members.has(d.user_id)) room.members.set(d.user_id, null);
            this.refreshMembers(id); // the join event names no priority; CHANNEL_INFO does
          } else {
            room.members.delete(d.user_id);
            if (d.user_id === this.userId) this.dropRoom(id);
          }
        }
        break;
      }
    }
  }

  async refreshMembers(channelId) {
    try {
      const info = await this.request(Op.CHANNEL_INFO, { channel_id: channelId });
      const room = this.rooms.get(channelId);
      if (!room || !info.members) return;
      room.members = new Map(info.members.map((m) => [m.user_id, m.priority]));
      render();
    } catch {
      // The list from join/leave events stays; only priorities are missing.
    }
  }

  onFloor(op, d) {
    const room = this.rooms.get(d.channel_id);
    if (!room) return;
    switch (op) {
      case Op.FLOOR_GRANTED:
        room.floor = { state: "taken", holder: this.userId, priority: d.priority };
        room.queue = null;
        if (this.holding && this.holding.channelId === room.channelId) {
          room.me = "talking";
          room.notice = null;
          if (room.peer) room.peer.audio.play().catch(() => {});
        } else {
          // Released before the grant arrived: the FLOOR_RELEASE already sent ends it.
          room.me = "idle";
        }
        break;
      case Op.FLOOR_TAKEN:
        room.floor = { state: "taken", holder: d.user_id, priority: d.priority };
        if (room.me === "talking") room.me = "idle";
        break;
      case Op.FLOOR_IDLE:
        room.floor = { state: "idle", holder: null, priority: 0 };
        if (room.me === "talking") room.me = "idle";
        // The burst that just ended is in the server's log before FLOOR_IDLE is sent. A
        // channel not on screen asks when it is selected, not at every burst.
        if (this.selected === room.channelId) this.refreshHistory(room.channelId);
        else room.historyStale = true;
        // A revoke is followed by IDLE (admin, timeouts): a user still holding the button keeps
        // seeing why the talking stopped until letting go.
        if (!this.isHolding(room)) room.notice = null;
        break;
      case Op.FLOOR_REVOKE:
        room.me = "idle";
        room.queue = null;
        room.notice = { kind: "revoked", reason: d.reason };
        break;
      case Op.FLOOR_DENY:
        // not_holder answers a release that crossed a revoke or a timeout: nothing to show.
        if (d.reason === "not_holder") break;
        if (d.reason === "already_granted") {
          room.me = "talking";
          break;
        }
        room.me = "idle";
        room.queue = null;
        room.notice = { kind: "denied", reason: d.reason };
        break;
      case Op.FLOOR_QUEUE_POS_INFO:
        if (room.me === "requesting" || room.me === "queued") {
          room.me = "queued";
          room.queue = { position: d.position, size: d.size };
        }
        break;
      case Op.FLOOR_PONG:
        this.lastPong = Date.now();
        this.pongs++;
        return;
    }
    this.syncChannelFloor(room);
    this.updateMic();
  }

  syncChannelFloor(room) {
    const ch = this.channels.get(room.channelId);
    if (ch) ch.floor = { ...(ch.floor || {}), state: room.floor.state, holder: room.floor.holder, priority: room.floor.priority };
  }

  // ---- channels ----

  async join(channelId, rejoin = false) {
    let room = this.rooms.get(channelId);
    if (room && !rejoin) {
      this.select(channelId);
      return;
    }
    if (!room) {
      room = new Room(channelId);
      this.rooms.set(channelId, room);
    }
    room.media = "connecting";
    room.mediaNote = "";
    if (!this.selected || !rejoin) this.selected = channelId;
    render();
    // Without a microphone the page offers recvonly and the server answers sendonly
    // (docs/web-client.md): the user hears the channel but cannot talk in it.
    const haveMic = !this.listenOnly && (await this.mic.open());
    if (this.listenOnly) room.mediaNote = "Listening only (chosen at sign-in).";
    else if (!haveMic) {
      room.mediaNote =
        this.mic.error && this.mic.error.name === "InsecureContext"
          ? `${INSECURE_SENTENCE} Listening only.`
          : `Microphone unavailable (${this.mic.error && this.mic.error.name}); listening only.`;
    }
    room.listenOnly = !haveMic;
    if (this.rooms.get(channelId) !== room) return;
    let peer = null;
    let offer;
    try {
      peer = new ChannelPeer(channelId, haveMic ? this.mic : null, $("#audio-host"));
      peer.onstate = () => render();
      offer = await peer.offer();
    } catch (err) {
      if (peer) peer.close();
      peer = null;
      room.mediaNote = `Audio unavailable in this browser (${err.name || err}); joined without audio.`;
    }
    let ack;
    try {
      ack = await this.request(Op.CHANNEL_JOIN, offer ? { channel_id: channelId, sdp_offer: offer } : { channel_id: channelId });
    } catch (err) {
      if (err.code === 2006 && peer) {
        // The server refused the audio offer: join for chat and floor events only.
        peer.close();
        peer = null;
        room.mediaNote = errorMessage(err);
        try {
          ack = await this.request(Op.CHANNEL_JOIN, { channel_id: channelId });
        } catch (err2) {
          err = err2;
        }
      }
      if (!ack) {
        if (peer) peer.close();
        if (err.code !== 0 || this.conn === "ready") {
          this.rooms.delete(channelId);
          if (this.selected === channelId) this.selected = null;
          this.showError(err.code, `Could not join ${channelId}: ${err.code ? errorMessage(err) : err.reason}`);
        } else if (this.rooms.get(channelId) === room) {
          // The connection dropped under the join: join again once it is back (onReady).
          room.media = "reconnecting";
        }
        render();
        return;
      }
    }
    if (this.rooms.get(channelId) !== room) {
      if (peer) peer.close();
      return;
    }
    room.members = new Map((ack.active_members || []).map((m) => [m.user_id, m.priority]));
    room.listeners = new Set((ack.active_members || []).filter((m) => m.listen_only).map((m) => m.user_id));
    room.members.set(this.userId, this.priority);
    const f = ack.floor || {};
    room.floor = { state: f.state || "idle", holder: f.holder || null, priority: f.priority || 0 };
    room.peer = peer;
    if (peer && ack.sdp_answer) {
      try {
        await peer.answer(ack.sdp_answer);
        room.media = "audio";
      } catch (err) {
        peer.close();
        room.peer = null;
        room.media = "signaling-only";
        room.mediaNote = `The server's audio answer was not usable (${err.message || err}).`;
      }
    } else {
      if (peer) peer.close();
      room.peer = null;
      room.media = "signaling-only";
    }
    // Only a join whose audio offer the server accepted is listen-only; signaling-only
    // members may hold the floor (they just send no audio).
    if (!room.peer) room.listenOnly = false;
    this.syncChannelFloor(room);
    render();
    this.refreshList();
    this.refreshHistory(channelId);
  }

  /** refreshHistory asks for the channel's recent transmissions (HISTORY_LIST). */
  async refreshHistory(channelId) {
    let ack;
    try {
      ack = await this.request(Op.HISTORY_LIST, { channel_id: channelId, limit: HISTORY_LIMIT });
    } catch (err) {
      const room = this.rooms.get(channelId);
      if (room && err.code === 2102) {
        room.historyNote = errorMessage(err);
        room.historyVersion++;
        render();
      }
      return null; // not a member any more (3002), or the connection dropped: keep the old list
    }
    const room = this.rooms.get(channelId);
    if (!room) return null;
    room.history = ack.bursts || [];
    room.historyNote = "";
    room.historyStale = false;
    room.historyVersion++;
    render();
    return room;
  }

  /** replay plays burst id's recording in the page's replay player; a second click stops it. */
  async replay(channelId, id) {
    const audio = $("#replay");
    if (this.replaying && this.replaying.id === id && !audio.paused) {
      audio.pause();
      this.replaying = null;
      render();
      return;
    }
    let room = this.rooms.get(channelId);
    let burst = room && room.history.find((b) => b.id === id);
    if (burst && Date.parse(burst.recording_expires_at) - Date.now() < URL_MARGIN_MS) {
      room = await this.refreshHistory(channelId);
      burst = room && room.history.find((b) => b.id === id);
    }
    if (!burst || !burst.recording_url) return;
    this.replaying = { channelId, id };
    audio.src = burst.recording_url;
    render();
    try {
      await audio.play();
    } catch (err) {
      this.replaying = null;
      this.showError(0, `Could not play the recording (${err.name || err}).`);
    }
  }

  async leave(channelId) {
    const room = this.rooms.get(channelId);
    if (!room) return;
    if (this.holding && this.holding.channelId === channelId) this.holding = null;
    this.dropRoom(channelId);
    render();
    try {
      await this.request(Op.CHANNEL_LEAVE, { channel_id: channelId });
    } catch (err) {
      if (err.code && err.code !== 2004) this.showError(err.code, errorMessage(err));
    }
    this.refreshList();
  }

  dropRoom(channelId) {
    const room = this.rooms.get(channelId);
    if (!room) return;
    if (room.peer) room.peer.close();
    this.rooms.delete(channelId);
    if (this.selected === channelId) this.selected = this.rooms.keys().next().value || null;
    this.updateMic();
  }

  select(channelId) {
    this.selected = channelId;
    const room = this.rooms.get(channelId);
    if (room && room.historyStale) this.refreshHistory(channelId);
    render();
  }

  // ---- floor ----

  press(emergency) {
    const room = this.rooms.get(this.selected);
    if (!room || this.holding || this.conn !== "ready" || room.listenOnly) return;
    this.holding = { channelId: room.channelId, emergency };
    room.notice = null;
    room.me = "requesting";
    const d = { channel_id: room.channelId };
    if (emergency) d.priority = 255;
    this.send(Op.FLOOR_REQUEST, d);
    if (room.peer) room.peer.audio.play().catch(() => {}); // a press is a user gesture
    render();
  }

  release() {
    if (!this.holding) return;
    const room = this.rooms.get(this.holding.channelId);
    this.holding = null;
    if (room && room.me !== "idle") {
      this.send(Op.FLOOR_RELEASE, { channel_id: room.channelId });
      room.me = "idle";
      room.queue = null;
    }
    // A denial answered this press; a revoke stays while someone else talks.
    if (room && room.notice && (room.notice.kind === "denied" || room.floor.state === "idle")) room.notice = null;
    this.updateMic();
    render();
  }

  isHolding(room) {
    return !!this.holding && this.holding.channelId === room.channelId;
  }

  pingFloors() {
    for (const room of this.rooms.values()) {
      if (room.me === "talking") this.send(Op.FLOOR_PING, { channel_id: room.channelId });
    }
  }

  /** pollReceiveLevel feeds the speaker meter from the selected channel's inbound audio level. */
  async pollReceiveLevel() {
    const room = this.rooms.get(this.selected);
    let level = 0;
    if (room && room.peer && room.peer.pc.connectionState === "connected") {
      try {
        level = (await room.peer.inboundAudio()).audioLevel;
      } catch {
        level = 0;
      }
    }
    this.rxLevel = level;
    renderMeter("#rx-level", level);
  }

  stopTalking() {
    this.holding = null;
    this.mic.setTalking(false);
  }

  updateMic() {
    let talking = false;
    for (const room of this.rooms.values()) talking ||= room.me === "talking";
    this.mic.setTalking(talking);
  }

  // ---- chat ----

  async say(content) {
    const room = this.rooms.get(this.selected);
    if (!room) return false;
    try {
      await this.request(Op.MESSAGE_CREATE, { channel_id: room.channelId, content });
      return true;
    } catch (err) {
      this.showError(err.code, err.code ? errorMessage(err) : `Message not sent: ${err.reason}`);
      return false;
    }
  }

  // ---- errors ----

  showError(code, text) {
    this.lastError = { code, text };
    render();
  }

  clearError() {
    this.lastError = null;
  }

  /** snapshot is the page state as plain data, for the debug object and the tests. */
  snapshot() {
    const rooms = {};
    for (const [id, r] of this.rooms) {
      rooms[id] = {
        me: r.me,
        floor: { ...r.floor },
        queue: r.queue,
        notice: r.notice,
        members: [...r.members.keys()],
        media: r.media,
        mediaNote: r.mediaNote,
        listenOnly: r.listenOnly,
        messages: r.messages.map((m) => ({ user_id: m.user_id, content: m.content })),
        connectionState: r.peer ? r.peer.pc.connectionState : null,
        history: r.history.map((b) => ({ id: b.id, user_id: b.user_id, duration_s: b.duration_s, has_recording: b.has_recording })),
        historyNote: r.historyNote,
      };
    }
    return {
      conn: this.conn,
      userId: this.userId,
      sessionId: this.sessionId,
      priority: this.priority,
      maxPriority: this.maxPriority,
      selected: this.selected,
      channels: [...this.channels.values()],
      rooms,
      micLevel: this.mic.level,
      rxLevel: this.rxLevel || 0,
      holding: this.holding,
      pongs: this.pongs,
      heartbeatAcks: this.heartbeatAcks,
      lastError: this.lastError,
      replay: replayState(),
    };
  }
}

// ---- rendering ----

const client = new Client();

function floorView(room, userId) {
  const reason = (r) => FloorReasonText[r] || r;
  const talker = room.floor.state === "taken" && room.floor.holder && room.floor.holder !== userId ? room.floor.holder : null;
  if (room.me === "talking") return ["talking", "You are talking"];
  if (room.notice && room.notice.kind === "revoked")
    return ["revoked", `Revoked (${reason(room.notice.reason)})` + (talker ? ` — ${talker} is talking` : "")];
  if (room.notice && room.notice.kind === "denied") return ["denied", `Denied (${reason(room.notice.reason)})`];
  if (room.me === "queued" && room.queue)
    return ["queued", `Queued at position ${room.queue.position} of ${room.queue.size}` + (talker ? ` — ${talker} is talking` : "")];
  if (room.me === "requesting") return ["requesting", "Requesting the floor…"];
  if (talker) return ["taken", `${talker} is talking` + (room.floor.priority >= 255 ? " (emergency)" : "")];
  if (room.floor.state === "taken") return ["releasing", "Releasing…"];
  return ["idle", "Idle — hold the button to talk"];
}

function render() {
  const signedIn = client.conn !== "signed-out";
  $("#signin").hidden = signedIn && client.conn !== "closed";
  $("#app").hidden = !signedIn;
  $("#signout").hidden = !signedIn;
  $("#reconnect").hidden = client.conn !== "closed";

  const conn = $("#conn-state");
  conn.dataset.state = client.conn;
  conn.textContent =
    {
      "signed-out": "signed out",
      connecting: "connecting…",
      ready: "connected",
      reconnecting: client.connNote || "reconnecting…",
      closed: client.connNote || "disconnected",
    }[client.conn] || client.conn;

  const me = $("#me");
  me.hidden = !signedIn;
  me.textContent = `${client.userId}` + (client.priority != null ? ` · priority ${client.priority}` : "");

  const err = $("#error");
  err.hidden = !client.lastError;
  if (client.lastError) {
    err.dataset.code = String(client.lastError.code);
    $("#error-text").textContent = client.lastError.text;
  }

  renderChannels();
  renderRoom();
}

/** replayState is what the replay player did: the burst, and how many seconds it played. */
function replayState() {
  const a = $("#replay");
  let played = 0;
  for (let i = 0; i < a.played.length; i++) played += a.played.end(i) - a.played.start(i);
  return { id: client.replaying ? client.replaying.id : null, paused: a.paused, ended: a.ended, played, error: a.error ? a.error.code : null };
}

function formatDuration(s) {
  if (s == null) return "–";
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

let renderedHistory = null;

function renderHistory(room) {
  const playing = client.replaying && !$("#replay").paused ? client.replaying.id : null;
  const key = `${room.channelId}/${room.historyVersion}/${playing}`;
  if (renderedHistory === key) return;
  renderedHistory = key;
  $("#history-note").textContent = room.historyNote || (room.history.length ? "" : "No transmissions yet.");
  $("#history").replaceChildren(
    ...room.history.map((b) => {
      const li = document.createElement("li");
      li.dataset.burst = String(b.id);
      li.dataset.testid = `burst-${b.id}`;
      const who = document.createElement("b");
      who.textContent = b.user_id;
      const when = document.createElement("time");
      when.dateTime = b.granted_at;
      const t = new Date(b.granted_at);
      when.textContent = isNaN(t) ? "" : t.toLocaleTimeString();
      const len = document.createElement("span");
      len.className = "duration";
      len.textContent = b.end_reason === "interrupted" ? "interrupted" : b.end_reason ? formatDuration(b.duration_s) : "on air";
      li.append(who, " ", when, " · ", len);
      if (b.emergency) li.append(" · emergency");
      if (b.recording_url) {
        const play = document.createElement("button");
        play.type = "button";
        play.className = "play";
        play.dataset.testid = `play-${b.id}`;
        play.dataset.burst = String(b.id);
        const on = playing === b.id;
        play.textContent = on ? "■" : "▶";
        play.setAttribute("aria-label", `${on ? "Stop" : "Play"} ${b.user_id}'s transmission at ${when.textContent}`);
        li.append(" ", play);
      }
      return li;
    }),
  );
}

function renderChannels() {
  const list = $("#channel-list");
  const ids = [...client.channels.keys()].sort();
  const seen = new Set(ids);
  for (const li of [...list.children]) if (!seen.has(li.dataset.channel)) li.remove();
  ids.forEach((id, i) => {
    const ch = client.channels.get(id);
    let li = list.querySelector(`li[data-channel="${CSS.escape(id)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.channel = id;
      li.dataset.testid = `channel-${id}`;
      li.innerHTML =
        '<button type="button" class="open"><span class="name"></span><span class="meta"><span class="freq"></span> · <span class="count"></span> · <span class="floor"></span></span></button>' +
        '<button type="button" class="join"></button>';
      li.querySelector(".join").dataset.testid = `join-${id}`;
    }
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    const joined = client.rooms.has(id);
    li.classList.toggle("joined", joined);
    li.classList.toggle("selected", client.selected === id);
    li.querySelector(".name").textContent = ch.channel_name || id;
    li.querySelector(".freq").textContent = `freq ${ch.freq || "?"}`;
    li.querySelector(".count").textContent = `${ch.member_count ?? 0}/${ch.capacity ?? "?"}`;
    const floor = ch.floor || {};
    const fl = li.querySelector(".floor");
    fl.textContent = floor.state === "taken" ? `● ${floor.holder || "someone"} talking` : "○ idle";
    fl.dataset.state = floor.state || "idle";
    const btn = li.querySelector(".join");
    btn.textContent = joined ? "Leave" : "Join";
    // The visible text is one word in a list of them; a screen reader needs the channel too.
    btn.setAttribute("aria-label", `${btn.textContent} ${ch.channel_name || id}`);
    btn.dataset.action = joined ? "leave" : "join";
  });
}

let renderedChat = null;

function renderRoom() {
  const room = client.rooms.get(client.selected);
  $("#room").hidden = !room;
  if (!room) {
    renderedChat = null;
    renderedHistory = null;
    return;
  }
  const ch = client.channels.get(room.channelId);
  $("#room-title").textContent = ch ? `${ch.channel_name} (${room.channelId})` : room.channelId;
  const media = $("#media-state");
  let mediaText = { connecting: "joining…", audio: room.listenOnly ? "🔈 listening only" : "🔊 audio", "signaling-only": "no audio", reconnecting: "reconnecting…" }[room.media];
  const pcState = room.peer ? room.peer.pc.connectionState : null;
  if (room.media === "audio" && pcState !== "connected") {
    mediaText = { new: "audio: connecting…", connecting: "audio: connecting…", disconnected: "audio: connection interrupted…",
      failed: "audio: connection failed (leave and join again)", closed: "audio: closed" }[pcState] || `audio: ${pcState}`;
  }
  media.dataset.state = room.media === "audio" ? `audio-${pcState}` : room.media;
  media.textContent = mediaText + (room.mediaNote ? ` — ${room.mediaNote}` : "");

  const [state, text] = floorView(room, client.userId);
  const fs = $("#floor-state");
  fs.dataset.state = state;
  fs.textContent = text;
  const ptt = $("#ptt");
  ptt.dataset.state = state;
  ptt.disabled = client.conn !== "ready" || room.media === "connecting" || room.media === "reconnecting" || room.listenOnly;
  ptt.querySelector(".ptt-label").textContent = room.listenOnly
    ? "Listening only"
    : { talking: "Talking…", requesting: "Wait…", queued: "Queued…" }[state] || "Hold to talk";
  const emergency = $("#emergency");
  emergency.hidden = client.maxPriority < 255;
  emergency.disabled = ptt.disabled;

  const members = $("#members");
  members.replaceChildren(
    ...[...room.members.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([uid, prio]) => {
        const li = document.createElement("li");
        li.dataset.user = uid;
        const listening = uid === client.userId ? room.listenOnly : room.listeners.has(uid);
        li.textContent = uid + (uid === client.userId ? " (you)" : "") + (prio != null ? ` · ${prio}` : "") + (listening ? " · listening" : "");
        if (listening) li.dataset.listenOnly = "true";
        const talking = room.floor.state === "taken" && room.floor.holder === uid;
        li.classList.toggle("talking", talking);
        if (talking) li.dataset.talking = "true";
        return li;
      }),
  );

  renderHistory(room);

  if (renderedChat !== room.channelId) {
    renderedChat = room.channelId;
    $("#chat-log").replaceChildren();
    room.messages.forEach(appendChat);
  }
}

function appendChat(m) {
  const li = document.createElement("li");
  li.dataset.user = m.user_id;
  const who = document.createElement("b");
  who.textContent = m.user_id;
  const when = document.createElement("time");
  when.dateTime = m.timestamp || "";
  const t = m.timestamp ? new Date(m.timestamp) : null;
  when.textContent = t && !isNaN(t) ? t.toLocaleTimeString() : "";
  const text = document.createElement("span");
  text.className = "content";
  text.textContent = m.content;
  li.append(who, " ", text, " ", when);
  const log = $("#chat-log");
  log.append(li);
  while (log.children.length > MAX_MESSAGES) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

function renderLevel(level) {
  renderMeter("#level", level);
}

function renderMeter(sel, level) {
  const el = $(sel);
  el.dataset.level = level.toFixed(3);
  el.firstElementChild.style.width = `${Math.round(Math.min(1, level) * 100)}%`;
}

// ---- input ----

function bindHold(button, emergency) {
  button.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0 || button.disabled) return;
    ev.preventDefault();
    button.setPointerCapture(ev.pointerId);
    client.press(emergency);
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    button.addEventListener(type, () => client.release());
  }
  button.addEventListener("contextmenu", (ev) => ev.preventDefault());
}

function isTyping(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || (target && target.isContentEditable);
}

function start() {
  bindHold($("#ptt"), false);
  bindHold($("#emergency"), true);
  document.addEventListener("keydown", (ev) => {
    if (ev.code !== "Space" || isTyping(ev.target)) return;
    ev.preventDefault();
    if (!ev.repeat) client.press(false);
  });
  document.addEventListener("keyup", (ev) => {
    if (ev.code !== "Space" || isTyping(ev.target)) return;
    ev.preventDefault();
    client.release();
  });
  // Never keep the floor when the page loses focus while the button or key is held.
  window.addEventListener("blur", () => client.release());
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) client.release();
  });

  $("#channel-list").addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-channel]");
    if (!li) return;
    const id = li.dataset.channel;
    const join = ev.target.closest("button.join");
    if (join) {
      join.dataset.action === "leave" ? client.leave(id) : client.join(id);
    } else if (client.rooms.has(id)) {
      client.select(id);
    }
  });

  $("#history").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button.play");
    if (btn && client.selected) client.replay(client.selected, Number(btn.dataset.burst));
  });
  for (const type of ["play", "pause", "ended"]) $("#replay").addEventListener(type, () => render());

  $("#chat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("#chat-input");
    const content = input.value;
    if (!content.trim()) return;
    if (await client.say(content)) input.value = "";
  });

  $("#signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const user = $("#user-id").value.trim();
    const token = $("#token").value.trim();
    sessionStorage.setItem(STORE_USER, user);
    sessionStorage.setItem(STORE_TOKEN, token);
    client.listenOnly = $("#listen-only").checked;
    sessionStorage.setItem(STORE_LISTEN, client.listenOnly ? "1" : "");
    client.signIn(user, token);
  });
  $("#signout").addEventListener("click", () => {
    sessionStorage.removeItem(STORE_USER);
    sessionStorage.removeItem(STORE_TOKEN);
    $("#token").value = "";
    client.signOut();
  });
  $("#reconnect").addEventListener("click", () => client.signIn(client.userId, client.token));
  $("#error-close").addEventListener("click", () => {
    client.clearError();
    render();
  });

  // Browsers give the microphone only to secure contexts: HTTPS, or this machine itself
  // (localhost, 127.0.0.1). Anything else gets the sentence at the top, and the page goes on
  // working without a microphone (listening, chat).
  $("#insecure").hidden = window.isSecureContext;

  // Sign in from ?user=&token= (the links `lcserver --dev` prints), then take the token out of
  // the address bar and history; the tab's sessionStorage keeps it for a reload.
  const q = new URLSearchParams(location.search);
  let user = q.get("user");
  let token = q.get("token");
  // ?listen=1 (with the sign-in link) joins every channel listen-only, for a monitor.
  if (q.has("listen")) sessionStorage.setItem(STORE_LISTEN, q.get("listen") === "0" ? "" : "1");
  client.listenOnly = sessionStorage.getItem(STORE_LISTEN) === "1";
  $("#listen-only").checked = client.listenOnly;
  if (user && token) {
    sessionStorage.setItem(STORE_USER, user);
    sessionStorage.setItem(STORE_TOKEN, token);
    q.delete("token");
    q.delete("user");
    const rest = q.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  } else {
    user = sessionStorage.getItem(STORE_USER);
    token = sessionStorage.getItem(STORE_TOKEN);
  }
  if (user) $("#user-id").value = user;
  if (token) $("#token").value = token;
  render();
  if (user && token) client.signIn(user, token);
}

/** window.lc is a small debug handle for people in the console and for the browser tests. */
window.lc = {
  client,
  get state() {
    return client.snapshot();
  },
  pc(channelId) {
    const room = client.rooms.get(channelId);
    return room && room.peer ? room.peer.pc : null;
  },
  async inboundAudio(channelId) {
    const room = client.rooms.get(channelId);
    return room && room.peer ? room.peer.inboundAudio() : null;
  },
  async outboundAudio(channelId) {
    const room = client.rooms.get(channelId);
    return room && room.peer ? room.peer.outboundAudio() : null;
  },
};

start();
