// peer.js drives davey (@snazzah/davey, Rust over OpenMLS) for the
// interoperability tests of package dave: one JSON request a line on
// standard input, one JSON answer a line on standard output. Byte strings
// are hex; user and channel ids are decimal strings. An answer is
// {"ok": true, ...} or {"error": "message"}.
//
// Requests ("cmd"):
//   new {user, channel}                      a DAVESession of protocol version 1
//   setExternalSender {user, data}           op 25
//   keyPackage {user} -> {data}              op 26
//   processProposals {user, op, data, recognized} -> {commit?, welcome?}
//                                            op 27 (data after the operation byte)
//   processCommit {user, data}               op 29 after the transition id
//   processWelcome {user, data}              op 30 after the transition id
//   state {user} -> {epoch, status, ready, privacyCode, authenticator, userIds}
//   encrypt {user, data} -> {data}           an Opus frame
//   decrypt {user, from, data} -> {data}     an Opus frame from user "from"
//   reset {user}                             reinit with the same ids
'use strict';

const readline = require('node:readline');
const davey = require('@snazzah/davey');

const sessions = new Map();

function session(user) {
  const s = sessions.get(user);
  if (!s) throw new Error(`no session for user ${user}`);
  return s;
}

const hex = (b) => (b ? Buffer.from(b).toString('hex') : null);
const bytes = (h) => Buffer.from(h, 'hex');

const handlers = {
  version: () => ({ version: davey.VERSION }),
  new: (r) => {
    sessions.set(r.user, { s: new davey.DAVESession(1, r.user, r.channel), channel: r.channel });
    return {};
  },
  setExternalSender: (r) => {
    session(r.user).s.setExternalSender(bytes(r.data));
    return {};
  },
  keyPackage: (r) => ({ data: hex(session(r.user).s.getSerializedKeyPackage()) }),
  processProposals: (r) => {
    const res = session(r.user).s.processProposals(r.op, bytes(r.data), r.recognized);
    return { commit: hex(res.commit), welcome: hex(res.welcome) };
  },
  processCommit: (r) => {
    session(r.user).s.processCommit(bytes(r.data));
    return {};
  },
  processWelcome: (r) => {
    session(r.user).s.processWelcome(bytes(r.data));
    return {};
  },
  state: (r) => {
    const s = session(r.user).s;
    return {
      epoch: s.epoch === null ? null : s.epoch.toString(),
      status: s.status,
      ready: s.ready,
      privacyCode: s.voicePrivacyCode,
      authenticator: hex(s.getEpochAuthenticator()),
      userIds: s.getUserIds(),
    };
  },
  encrypt: (r) => ({ data: hex(session(r.user).s.encryptOpus(bytes(r.data))) }),
  decrypt: (r) => ({ data: hex(session(r.user).s.decrypt(r.from, 0, bytes(r.data))) }),
  reset: (r) => {
    const e = session(r.user);
    e.s.reinit(1, r.user, e.channel);
    return {};
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let answer;
  try {
    const r = JSON.parse(line);
    const h = handlers[r.cmd];
    if (!h) throw new Error(`unknown command ${r.cmd}`);
    answer = { ok: true, ...h(r) };
  } catch (e) {
    answer = { error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
rl.on('close', () => process.exit(0));
