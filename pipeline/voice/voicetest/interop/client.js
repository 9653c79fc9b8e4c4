// client.js runs one discord.js voice client (@discordjs/voice, with
// davey for DAVE) for the interoperability tests of package voicetest,
// driven over standard input and output: one JSON command a line in, one
// JSON event a line out. Byte strings are base64. discord.js's debug
// lines (DAVE's among them) go to standard error.
//
// The debug lines on standard error (which a test shows when it fails)
// begin with the time of day (UTC, to the millisecond), to be read beside
// the Go side's; davey's DAVE session is wrapped so that they also say
// which frames it refused and why, and the first frame it decrypted from
// each sender at each epoch, with the frames' DAVE nonces.
//
// Commands ("cmd"):
//   join {guild, channel, user, session, endpoint, token, dave, listen}
//       joins through an adapter that plays the main gateway: it answers
//       the Voice State Update with the VOICE_STATE_UPDATE and
//       VOICE_SERVER_UPDATE the test gives (endpoint is host:port, dialled
//       as wss://); dave is the daveEncryption option; listen lists the
//       user ids whose audio is subscribed to.
//   speak            sends Speaking (op 5) now, before any audio
//   play {packets}   plays Opus packets through an AudioPlayer, from an
//                    AudioResource of StreamType.Opus (no encoder)
//   state            reports the DAVE state (a state event)
//   leave            destroys the connection
//   misread          runs a packet whose ciphertext starts with BE DE,
//                    without a header extension, through the receiver's
//                    parsing as join sets it up (a misread event)
//
// Events ("event"):
//   ready {mode, ssrc, dave}     the connection is ready (again)
//   ssrc {user, ssrc}            the receiver maps ssrc to user (op 5)
//   packet {user, ssrc, seq, timestamp, data}
//                                a frame from user, from the receiver's
//                                subscription, with its RTP header's fields
//   played {count, sent}         the player went idle after playing count
//                                packets; sent counts the connection's
//                                packets so far, the player's silence
//                                frames included
//   transitioned {id}            a DAVE transition was executed
//   state {version, pending, epoch, ready, privacyCode, members}
//                                the DAVE state: the protocol version in
//                                force, the transitions pending, davey's
//                                group epoch (a decimal string),
//                                readiness and members
//   closed {code}                the voice WebSocket closed with code
//   left                         the connection is destroyed
//   misread {frame, parsed}      the frame misread put through the
//                                receiver's parsing, and what came out
//   error {message}
'use strict';

const crypto = require('node:crypto');
const readline = require('node:readline');
const { Readable } = require('node:stream');
const voice = require('@discordjs/voice');
const davey = require('@snazzah/davey');

const emit = (e) => process.stdout.write(JSON.stringify(e) + '\n');
// debug writes a line to standard error, after the time of day.
const debug = (line) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
const b64 = (b) => Buffer.from(b).toString('base64');

// nonceOf returns the nonce of a DAVE frame, or -1 for a frame that is
// not one. A DAVE frame ends with its 8-byte tag, its nonce (ULEB128), its
// unencrypted ranges, a byte giving the size of these four and the
// marker, and the marker FA FA.
function nonceOf(f) {
  if (f.length < 11 || f[f.length - 1] !== 0xfa || f[f.length - 2] !== 0xfa) return -1;
  let n = 0;
  for (let i = f.length - f[f.length - 3] + 8, shift = 0; i < f.length - 3 && shift < 35; i++, shift += 7) {
    n += (f[i] & 0x7f) * 2 ** shift;
    if (!(f[i] & 0x80)) return n;
  }
  return -1;
}

let user = '';

{
  const { decrypt } = davey.DAVESession.prototype;
  const decrypted = new WeakMap(); // by session: the senders and epochs a frame was decrypted at
  davey.DAVESession.prototype.decrypt = function (sender, mediaType, frame) {
    const at = `${sender}, its group at epoch ${this.epoch}`;
    let out;
    try {
      out = decrypt.call(this, sender, mediaType, frame);
    } catch (e) {
      debug(`${user}: davey refused a frame from ${at}: nonce ${nonceOf(frame)}, ${frame.length} bytes: ${e && e.message}`);
      throw e;
    }
    if (!decrypted.has(this)) decrypted.set(this, new Set());
    if (!decrypted.get(this).has(at)) {
      decrypted.get(this).add(at);
      debug(`${user}: davey decrypted its first frame from ${at}: nonce ${nonceOf(frame)}`);
    }
    return out;
  };
}

let connection = null;
let player = null;
let playing = 0;

function join(r) {
  user = r.user;
  connection = voice.joinVoiceChannel({
    guildId: r.guild,
    channelId: r.channel,
    selfDeaf: false,
    selfMute: false,
    daveEncryption: r.dave,
    debug: true,
    adapterCreator: (methods) => ({
      sendPayload(payload) {
        if (payload.d.channel_id === null) return true; // leaving
        // The main gateway answers a Voice State Update (op 4) with the
        // two events, the voice state first.
        setImmediate(() => {
          methods.onVoiceStateUpdate({
            guild_id: r.guild,
            channel_id: r.channel,
            user_id: r.user,
            session_id: r.session,
            deaf: false,
            mute: false,
            self_deaf: payload.d.self_deaf,
            self_mute: payload.d.self_mute,
            self_video: false,
            suppress: false,
          });
          methods.onVoiceServerUpdate({ guild_id: r.guild, token: r.token, endpoint: r.endpoint });
        });
        return true;
      },
      destroy() {},
    }),
  });
  connection.on('error', (e) => emit({ event: 'error', message: String(e && e.message ? e.message : e) }));
  connection.on('debug', (m) => {
    if (!/state change/.test(m)) debug(`${r.user}: ${m}`); // not the states' dumps
  });
  connection.on('transitioned', (id) => emit({ event: 'transitioned', id }));
  const watched = new WeakSet();
  connection.on('stateChange', (before, after) => {
    const net = after.networking;
    if (net && !watched.has(net)) {
      watched.add(net);
      net.on('close', (code) => emit({ event: 'closed', code }));
    }
    if (after.status === voice.VoiceConnectionStatus.Ready && before.status !== after.status) {
      const data = net.state.connectionData;
      emit({ event: 'ready', mode: data.encryptionMode, ssrc: data.ssrc, dave: Boolean(net.state.dave) });
    }
  });

  const receiver = connection.receiver;
  receiver.ssrcMap.on('update', (_, d) => emit({ event: 'ssrc', user: d.userId, ssrc: d.audioSSRC }));

  // The receiver hands a subscription the frame alone; the RTP header of
  // each frame it parsed is queued here, per user, to report with it.
  const headers = new Map();
  const parse = parseWhole(receiver);
  receiver.parsePacket = (buffer, mode, nonce, key, userId) => {
    const frame = parse(buffer, mode, nonce, key, userId);
    if (frame) {
      headers.get(userId)?.push({ ssrc: buffer.readUInt32BE(8), seq: buffer.readUInt16BE(2), timestamp: buffer.readUInt32BE(4) });
    }
    return frame;
  };
  for (const user of r.listen || []) {
    headers.set(user, []);
    const stream = receiver.subscribe(user, { end: { behavior: voice.EndBehaviorType.Manual } });
    stream.on('data', (frame) => emit({ event: 'packet', user, ...headers.get(user).shift(), data: b64(frame) }));
    stream.on('error', (e) => emit({ event: 'error', message: `receiving from ${user}: ${e.message}` }));
  }
}

// parseWhole returns receiver's parsePacket, bound to it, made to keep
// the frames of packets without a header extension whole. discord.js
// 0.19.2 strips an extension whenever bytes 12-13 of a packet are BE DE,
// whatever the header's X bit says: in a packet without one they are the
// first two bytes of the ciphertext, so 1 packet in 65,536 from a speaker
// that sends no extension (discord.js, the Go client) loses 4 times
// bytes 14-15 of its frame, all of it as a rule, and its DAVE layer then
// logs "Failed to decrypt a packet". Before such a packet the receiver's
// decrypt is made to put that many bytes in front of the frame, which the
// strip takes off again.
function parseWhole(receiver) {
  const parse = receiver.parsePacket.bind(receiver);
  const decrypt = receiver.decrypt.bind(receiver);
  return (buffer, mode, nonce, key, userId) => {
    const misread = !(buffer[0] & 0x10) && buffer[12] === 0xbe && buffer[13] === 0xde;
    const pad = misread ? 4 * buffer.readUInt16BE(14) : 0;
    receiver.decrypt = pad ? (...a) => Buffer.concat([Buffer.alloc(pad), decrypt(...a)]) : decrypt;
    return parse(buffer, mode, nonce, key, userId);
  };
}

// misread checks parseWhole on a receiver of its own, outside any
// connection (so without DAVE): it seals a frame under AES-256-GCM, as
// aead_aes256_gcm_rtpsize does, with the first counter whose ciphertext
// starts with BE DE (one in 65,536), and parses it.
function misread() {
  const key = crypto.randomBytes(32);
  const frame = Buffer.concat([crypto.randomBytes(41), Buffer.from([0x01, 0x0c, 0xfa, 0xfa])]);
  const header = Buffer.from([0x80, 0x78, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  const receiver = Object.create(voice.VoiceReceiver.prototype);
  receiver.voiceConnection = { state: { status: voice.VoiceConnectionStatus.Connecting } };
  for (let counter = 0; ; counter++) {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(counter, 0);
    const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(header);
    const sealed = Buffer.concat([cipher.update(frame), cipher.final()]);
    if (sealed[0] !== 0xbe || sealed[1] !== 0xde) continue;
    const packet = Buffer.concat([header, sealed, cipher.getAuthTag(), iv.subarray(0, 4)]);
    const got = parseWhole(receiver)(packet, 'aead_aes256_gcm_rtpsize', Buffer.alloc(12), key, '1');
    emit({ event: 'misread', frame: b64(frame), parsed: b64(got) });
    return;
  }
}

function play(r) {
  if (!player) {
    player = voice.createAudioPlayer({ behaviors: { noSubscriber: voice.NoSubscriberBehavior.Play } });
    player.on('error', (e) => emit({ event: 'error', message: `player: ${e.message}` }));
    player.on('stateChange', (before, after) => {
      if (after.status === voice.AudioPlayerStatus.Idle && before.status !== after.status) {
        const net = connection.state.networking;
        emit({ event: 'played', count: playing, sent: net ? net.state.connectionData.packetsPlayed : 0 });
      }
    });
    connection.subscribe(player);
  }
  // All the packets are in the stream before it is played, so that the
  // player never finds it empty and plays silence in their place.
  const stream = new Readable({ objectMode: true, highWaterMark: r.packets.length + 1, read() {} });
  for (const p of r.packets) stream.push(Buffer.from(p, 'base64'));
  stream.push(null);
  playing = r.packets.length;
  player.play(voice.createAudioResource(stream, { inputType: voice.StreamType.Opus }));
}

function state() {
  const net = connection && connection.state.networking;
  const dave = net && net.state.dave;
  const session = dave && dave.session;
  emit({
    event: 'state',
    version: dave ? dave.protocolVersion : 0,
    pending: dave ? dave.pendingTransitions.size : 0,
    epoch: session && session.epoch !== null ? session.epoch.toString() : null,
    ready: Boolean(session && session.ready),
    privacyCode: dave ? dave.voicePrivacyCode : null,
    members: session ? session.getUserIds() : [],
  });
}

function speak() {
  connection.setSpeaking(true);
}

function leave() {
  if (connection) connection.destroy();
  connection = null;
  emit({ event: 'left' });
}

const commands = { join, speak, play, state, leave, misread };

// cipherLoaded reports whether discord.js has its XChaCha20-Poly1305:
// it imports the library (@noble/ciphers here) when it is required, with
// a dynamic import() that resolves later, and until then its transport in
// aead_xchacha20_poly1305_rtpsize throws "no valid encryption package is
// installed" at the first packet either way (a machine under load joined
// before it resolved). Sealing a packet in that mode tells.
function cipherLoaded() {
  try {
    voice.Networking.prototype.encryptOpusPacket.call(
      null,
      Buffer.from([0xf8, 0xff, 0xfe]),
      { secretKey: new Uint8Array(32), encryptionMode: 'aead_xchacha20_poly1305_rtpsize', nonce: 0, nonceBuffer: Buffer.alloc(24) },
      Buffer.alloc(12),
    );
    return true;
  } catch {
    return false;
  }
}

// The commands wait until discord.js's ciphers are loaded.
const loaded = new Promise((resolve) => {
  const poll = () => (cipherLoaded() ? resolve() : setTimeout(poll, 5));
  poll();
});

function run(line) {
  try {
    const r = JSON.parse(line);
    const c = commands[r.cmd];
    if (!c) throw new Error(`unknown command ${r.cmd}`);
    c(r);
  } catch (e) {
    emit({ event: 'error', message: String(e && e.message ? e.message : e) });
  }
}

const rl = readline.createInterface({ input: process.stdin });
// Each line's run is chained on loaded, so the commands keep their order.
rl.on('line', (line) => loaded.then(() => run(line)));
rl.on('close', () => {
  if (connection) connection.destroy();
  if (player) player.stop(true);
  process.exit(0);
});
