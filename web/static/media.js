// Audio side of the page: one microphone stream shared by every channel, a live input level
// from a WebAudio AnalyserNode, and one RTCPeerConnection per joined channel. The server is
// ICE-lite (docs/media.md), so the page configures no STUN/TURN servers: the answer names the
// server's only candidate and the browser sends its connectivity checks straight to it.

/** How long to wait for ICE gathering before sending the offer as it is. */
const GATHER_TIMEOUT_MS = 1500;

/**
 * INSECURE_SENTENCE is what the page says when the browser withholds the microphone because
 * the page came over plain HTTP from an address other than this machine (docs/web-client.md).
 */
export const INSECURE_SENTENCE = "This page needs HTTPS for the microphone; start lcserver with --tls-self-signed.";

/** Microphone owns the getUserMedia stream and its level meter. */
export class Microphone {
  constructor() {
    this.stream = null; // the raw microphone: feeds the level meter, always enabled
    this.sendStream = null; // a clone of it that the peer connections send, enabled only while talking
    this.error = null;
    this.level = 0; // 0..1, RMS of the latest analyser frame
    this._ctx = null;
    this._timer = null;
  }

  /** open asks for the microphone once; it resolves false (with this.error) when refused. */
  async open() {
    if (this.stream) return true;
    // Outside a secure context (plain HTTP from another machine) browsers have no
    // navigator.mediaDevices at all: say so instead of failing on undefined.
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.error = { name: "InsecureContext", message: INSECURE_SENTENCE };
      return false;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: false,
      });
    } catch (err) {
      this.error = err;
      return false;
    }
    // Disabling a track makes it silent everywhere, WebAudio included, so the peers get a
    // clone that is switched on only while this user holds a floor and the meter keeps the
    // original.
    const sendTrack = this.stream.getAudioTracks()[0].clone();
    sendTrack.enabled = false;
    this.sendStream = new MediaStream([sendTrack]);
    this._startMeter();
    return true;
  }

  /** track is what the peer connections send. */
  get track() {
    return this.sendStream ? this.sendStream.getAudioTracks()[0] : null;
  }

  /** setTalking turns the outgoing audio on or off. */
  setTalking(on) {
    if (this.track) this.track.enabled = on;
  }

  // The meter reads the raw microphone (not the enabled/disabled track state) so a person
  // can check the microphone before talking.
  _startMeter() {
    try {
      this._ctx = new AudioContext();
      const source = this._ctx.createMediaStreamSource(this.stream);
      const analyser = this._ctx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      // A timer rather than requestAnimationFrame: it keeps running in a background tab.
      this._timer = setInterval(() => {
        if (this._ctx.state === "suspended") this._ctx.resume().catch(() => {});
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        this.level = Math.min(1, Math.sqrt(sum / buf.length) * 4);
        if (this.onlevel) this.onlevel(this.level);
      }, 100);
    } catch (err) {
      console.warn("level meter unavailable", err);
    }
  }

  close() {
    clearInterval(this._timer);
    if (this._ctx) this._ctx.close().catch(() => {});
    for (const s of [this.stream, this.sendStream]) if (s) s.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.sendStream = null;
  }
}

/**
 * ChannelPeer is the RTCPeerConnection of one joined channel and the <audio> element that
 * plays what the server relays. mic is null (or has no track) for a listen-only join.
 */
export class ChannelPeer {
  constructor(channelId, mic, audioHost) {
    this.channelId = channelId;
    this.pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    this.audio = document.createElement("audio");
    this.audio.autoplay = true;
    this.audio.dataset.channel = channelId;
    this.audio.id = `audio-${channelId}`;
    audioHost.appendChild(this.audio);
    if (mic && mic.track) {
      this.pc.addTrack(mic.track, mic.sendStream);
    } else {
      // Listen-only: the server answers a=sendonly (RFC 3264 §6.1) and relays the channel.
      this.pc.addTransceiver("audio", { direction: "recvonly" });
    }
    this.pc.onconnectionstatechange = () => {
      if (this.onstate) this.onstate(this.pc.connectionState);
    };
    this.pc.ontrack = (ev) => {
      this.audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      this.audio.play().catch(() => {}); // autoplay may need a gesture; the talk button is one
    };
  }

  /** offer creates the SDP offer, after ICE gathering completes or a short timeout. */
  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    if (this.pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        // Whichever comes first ends the wait and removes the other, so that neither the
        // listener nor the timer outlives it.
        const finish = () => {
          clearTimeout(timer);
          this.pc.removeEventListener("icegatheringstatechange", onChange);
          resolve();
        };
        const onChange = () => {
          if (this.pc.iceGatheringState === "complete") finish();
        };
        const timer = setTimeout(finish, GATHER_TIMEOUT_MS);
        this.pc.addEventListener("icegatheringstatechange", onChange);
      });
    }
    return this.pc.localDescription.sdp;
  }

  /** answer applies the server's SDP answer from the CHANNEL_JOIN ACK. */
  async answer(sdp) {
    await this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  /** inboundAudio sums the inbound-rtp audio figures of getStats (for people and tests). */
  async inboundAudio() {
    const out = { packetsReceived: 0, bytesReceived: 0, audioLevel: 0, totalAudioEnergy: 0, packetsLost: 0 };
    const stats = await this.pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.packetsReceived += s.packetsReceived || 0;
        out.bytesReceived += s.bytesReceived || 0;
        out.packetsLost += s.packetsLost || 0;
        out.totalAudioEnergy += s.totalAudioEnergy || 0;
        out.audioLevel = Math.max(out.audioLevel, s.audioLevel || 0);
      }
    });
    return out;
  }

  /** outboundAudio sums the outbound-rtp audio figures of getStats. */
  async outboundAudio() {
    const out = { packetsSent: 0, bytesSent: 0 };
    const stats = await this.pc.getStats();
    stats.forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "audio") {
        out.packetsSent += s.packetsSent || 0;
        out.bytesSent += s.bytesSent || 0;
      }
    });
    return out;
  }

  close() {
    this.pc.close();
    this.audio.srcObject = null;
    this.audio.remove();
  }
}
