/**
 * The call page's script (served as `/assets/call-page.js`, an ES module; no framework, no CDN).
 *
 * Flow: the "Join" click creates/resumes the AudioContext (browsers allow audio from a gesture),
 * checks the join token with `GET …/ice-servers?token=` (its refusal is shown as is; on a loopback
 * origin STUN is dropped: host candidates are all two local tabs need), asks for the microphone
 * (and the camera, optional), opens `…/ws?token=` and speaks src/calls/messages.ts.
 *
 * Media goes through a transport with a small interface (`addPeer(id)`, `removePeer(id)`,
 * `signal(frame)`, `stats()`, `leave()`, `close()`; mute and camera toggle the shared local
 * tracks). The page's `data-media` (set by the server) picks one:
 * - `p2p`: a mesh, one RTCPeerConnection per remote participant, "perfect negotiation" (the
 *   participant with the larger id is polite; the impolite one makes the first offer), offers,
 *   answers and ICE relayed by the call's Durable Object.
 * - `sfu`: one RTCPeerConnection to the Cloudflare Realtime SFU, negotiated through the Worker's
 *   proxy (`/api/v2/calls/{id}/sfu/sessions…`, `Authorization: Bearer <join token>`):
 *   sessions/new, then the local tracks are pushed (sendonly transceivers, offer → tracks/new with
 *   `{location:"local", mid, trackName}` → answer). Every other participant's published track
 *   (the roster's `sfu_session_id` + `media_streams`, later `track_published` frames) is pulled
 *   (`{location:"remote", sessionId, trackName}`); the SFU then sends an offer
 *   (`requiresImmediateRenegotiation`) that is answered with PUT …/renegotiate. `track_closed`
 *   and `left` close the pulled mids (transceivers stopped, offer → tracks/close `force:false` →
 *   answer); leaving closes every own mid (`force:true`) before the `leave` frame. All SFU
 *   negotiations run one after the other on a single promise chain.
 *
 * Untrusted text (names, transcript, agent speech) only ever goes through `textContent`.
 * Test hooks: `window.__call` = {state, pcs, errors, events, played, stats(), sfu (SFU mode)}.
 *
 * Kept as one string so the Worker serves it without a build step; the code uses no backticks
 * and no template placeholders, so `String.raw` returns it byte for byte.
 */
export const CALL_PAGE_JS = String.raw`// Call page: see src/calls/page/page-script.ts in the repository.
const app = document.getElementById('app');
const callId = app.dataset.callId;
const mediaMode = app.dataset.media;
const $ = (id) => document.getElementById(id);
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(location.hostname);
const STUN_FALLBACK = [{ urls: ['stun:stun.cloudflare.com:3478'] }];
const PING_MS = 25000;

const state = { phase: 'idle', me: null, callStatus: null, participants: new Map(), transcript: [], muted: false, videoOn: false };
const hooks = { state: state, pcs: new Map(), errors: [], events: [], played: [], mediaMode: mediaMode, stats: function () { return transport ? transport.stats() : Promise.resolve({}); } };
window.__call = hooks;

let audioCtx = null;
let localStream = null;
let transport = null;
let ws = null;
let pingTimer = null;
let inbox = Promise.resolve();
let speech = Promise.resolve();
let speechEnd = 0;
let token = '';
let iceServers = [];
let retries = 0;
const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000];

const params = new URLSearchParams(location.search);
$('token').value = params.get('token') || '';
$('join').addEventListener('click', onJoinClick);
$('mute').addEventListener('click', toggleMute);
$('camera').addEventListener('click', toggleCamera);
$('leave').addEventListener('click', leave);

// ---- small helpers -------------------------------------------------------------------------
function setStatus(text) { $('status').textContent = text; }
function event(name, detail) { hooks.events.push({ name: name, detail: detail === undefined ? null : detail, at: Date.now() }); }
function fail(err) {
  const text = err && err.message ? err.message : String(err);
  hooks.errors.push(text);
  $('errors').textContent = hooks.errors.slice(-3).join('\n');
}
function notice(text) { const n = $('notice'); n.textContent = text; n.hidden = false; }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function send(frame) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}
function nameOf(id) {
  if (id === null || id === undefined) return 'Agent';
  const p = state.participants.get(id);
  return p ? p.display_name : id;
}
/** The participant id in our own join token (the server verifies it; we only read it). */
function tokenSubject(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4))).sub || null;
  } catch (e) {
    return null;
  }
}

// ---- joining -------------------------------------------------------------------------------
function onJoinClick() {
  // Create or resume the AudioContext inside the click: that is what lets the agent's voice play.
  if (!audioCtx) audioCtx = new AudioContext();
  audioCtx.resume().catch(function () {});
  join().catch(function (err) {
    fail(err);
    state.phase = 'error';
    setStatus('Could not join.');
    $('join').disabled = false;
  });
}

async function join() {
  token = $('token').value.trim();
  if (!token) throw new Error('Paste a join token first (POST /api/v2/calls/{call_id}/participants returns one).');
  state.me = tokenSubject(token);
  if (!state.me) throw new Error('This does not look like a join token.');
  $('join').disabled = true;
  state.phase = 'joining';
  setStatus('Checking the join token...');
  iceServers = await fetchIceServers();
  if (!localStream) {
    setStatus('Asking for the microphone' + ($('with-video').checked ? ' and camera...' : '...'));
    localStream = await getMedia($('with-video').checked);
    const video = $('local-video');
    video.srcObject = localStream;
  }
  state.videoOn = localStream.getVideoTracks().some(function (t) { return t.enabled; });
  retries = 0;
  connect();
}

async function fetchIceServers() {
  let res;
  try {
    res = await fetch('/api/v2/calls/' + callId + '/ice-servers?token=' + encodeURIComponent(token), { cache: 'no-store' });
  } catch (err) {
    event('ice_servers_unreachable', String(err));
    return LOOPBACK ? [] : STUN_FALLBACK;
  }
  if (res.status >= 400 && res.status < 500) {
    const problem = await res.json().catch(function () { return {}; });
    throw new Error(problem.detail || ('The server refused the join token (HTTP ' + res.status + ').'));
  }
  if (!res.ok) return LOOPBACK ? [] : STUN_FALLBACK;
  const body = await res.json();
  // Two tabs on this machine need no STUN; TURN credentials are kept.
  return LOOPBACK && body.source === 'stun' ? [] : body.ice_servers;
}

async function getMedia(withVideo) {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) {
    notice('This browser offers no microphone here (pages need https or localhost); you join to listen only.');
    return new MediaStream();
  }
  const video = withVideo ? { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } } : false;
  try {
    return await md.getUserMedia({ audio: true, video: video });
  } catch (err) {
    if (withVideo) {
      try {
        const s = await md.getUserMedia({ audio: true });
        notice('No camera (' + err.name + '); you join with the microphone only.');
        return s;
      } catch (e) { /* fall through */ }
    }
    notice('No microphone (' + err.name + '); you join to listen only.');
    return new MediaStream();
  }
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (state.phase !== 'reconnecting') setStatus('Connecting...');
  if (transport) transport.close();
  transport = createTransport(mediaMode, iceServers);
  const socket = new WebSocket(proto + '//' + location.host + '/api/v2/calls/' + callId + '/ws?token=' + encodeURIComponent(token));
  ws = socket;
  socket.onopen = function () {
    event('ws_open');
    clearInterval(pingTimer);
    pingTimer = setInterval(function () { if (socket.readyState === WebSocket.OPEN) socket.send('ping'); }, PING_MS);
  };
  socket.onmessage = function (ev) {
    if (ev.data === 'pong') return;
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return fail(new Error('The server sent a frame that is not JSON.')); }
    // Strictly in order: negotiation depends on it.
    inbox = inbox.then(function () { return handle(msg); }).catch(fail);
  };
  socket.onclose = function (ev) {
    if (ws !== socket) return;
    clearInterval(pingTimer);
    event('ws_close', { code: ev.code, reason: ev.reason });
    if (transport) { transport.close(); transport = null; }
    $('controls').hidden = true;
    if (ev.code === 4000) { state.phase = 'replaced'; setStatus('You joined from another tab; this one is disconnected.'); }
    else if (ev.reason === 'left the call') { state.phase = 'left'; setStatus('You left the call.'); }
    else if (ev.reason === 'removed from the call') { state.phase = 'left'; setStatus('You were removed from the call.'); }
    else if (/^call (ended|failed)$/.test(ev.reason)) { state.phase = 'ended'; setStatus('The call has ' + ev.reason.slice(5) + '.'); }
    else if ((state.phase === 'joined' || state.phase === 'reconnecting') && retries < RETRY_MS.length) {
      // A dropped socket (network, or the Worker was redeployed): the call's object still has us.
      state.phase = 'reconnecting';
      const delay = RETRY_MS[retries++];
      setStatus('Connection lost (' + ev.code + '); reconnecting in ' + (delay / 1000) + ' s...');
      setTimeout(function () { if (state.phase === 'reconnecting') connect(); }, delay);
    } else {
      state.phase = 'disconnected';
      setStatus(state.callStatus ? 'Disconnected (' + ev.code + '). Press Join to reconnect.' : 'The server refused the connection (the call may have ended, or you left it).');
      $('join-panel').hidden = false;
      $('join').disabled = false;
    }
    renderParticipants();
  };
}

function leave() {
  if (state.phase === 'leaving') return;
  state.phase = 'leaving';
  setStatus('Leaving...');
  // The SFU transport closes its tracks first: once we have left, the proxy refuses us.
  const closing = transport ? transport.leave() : Promise.resolve();
  const timeout = new Promise(function (resolve) { setTimeout(function () { event('leave_timeout'); resolve(); }, 5000); });
  Promise.race([closing, timeout]).catch(function (err) { event('leave_cleanup_failed', String(err)); }).then(function () {
    send({ type: 'leave' });
    if (transport) { transport.close(); transport = null; }
    if (localStream) localStream.getTracks().forEach(function (t) { t.stop(); });
    localStream = null;
  });
}

// ---- frames from the server (src/calls/messages.ts) ----------------------------------------
async function handle(msg) {
  switch (msg.type) {
    case 'roster': {
      state.callStatus = msg.status;
      state.participants = new Map(msg.participants.map(function (p) { return [p.participant_id, p]; }));
      if (state.phase === 'reconnecting') event('reconnected', retries);
      state.phase = 'joined';
      retries = 0;
      $('controls').hidden = false;
      $('join-panel').hidden = true;
      setStatus('In the call (' + msg.status + ').');
      syncOwnState();
      if (transport) msg.participants.forEach(function (p) { if (p.participant_id !== state.me && p.connected && p.left_at === null) transport.addPeer(p.participant_id); });
      renderParticipants();
      loadTranscript();
      return;
    }
    case 'joined':
      state.participants.set(msg.participant.participant_id, msg.participant);
      if (transport && msg.participant.participant_id !== state.me) transport.addPeer(msg.participant.participant_id);
      return renderParticipants();
    case 'left': {
      const p = state.participants.get(msg.participant_id);
      if (p) { p.connected = false; if (msg.reason !== 'disconnected') p.left_at = new Date().toISOString(); }
      if (transport) transport.removePeer(msg.participant_id);
      return renderParticipants();
    }
    case 'participant_updated':
      state.participants.set(msg.participant.participant_id, msg.participant);
      if (msg.participant.participant_id === state.me && msg.participant.is_muted !== state.muted) applyMute(msg.participant.is_muted);
      return renderParticipants();
    case 'offer':
    case 'answer':
    case 'ice':
      return transport ? transport.signal(msg) : undefined;
    case 'track_published':
    case 'track_closed':
      // SFU mode: another participant's track to pull, or to stop pulling (not awaited: the
      // SFU transport runs its own negotiation chain, and frames keep flowing meanwhile).
      if (transport && transport.kind === 'sfu') transport.signal(msg);
      return;
    case 'status':
      state.callStatus = msg.status;
      setStatus('In the call (' + msg.status + ').');
      return;
    case 'transcript':
      return addLine(msg.line);
    case 'transcript_cleared':
      // DELETE …/transcript erased it: forget what this page shows too.
      state.transcript = [];
      seenLines.clear();
      $('transcript').replaceChildren();
      return;
    case 'agent_speech':
      $('agent-speech').textContent = msg.text;
      if (msg.audio) speech = speech.then(function () { return playSpeech(msg); }).catch(fail);
      return;
    case 'error':
      event('server_error', msg);
      // A peer that left between our frames is routine; everything else is worth showing.
      if (msg.code !== 'peer_unavailable') fail(new Error(msg.code + ': ' + msg.message));
      return;
    default:
      event('unknown_frame', msg.type);
  }
}

/** The server is the truth for "muted" (PATCH …/participants can mute us); video follows our camera. */
function syncOwnState() {
  const mine = state.participants.get(state.me);
  if (!mine) return;
  if (mine.is_muted !== state.muted) applyMute(mine.is_muted);
  if (mine.is_video_enabled !== state.videoOn) send({ type: 'video', enabled: state.videoOn });
  renderControls();
}

function applyMute(muted) {
  state.muted = muted;
  if (localStream) localStream.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
  renderControls();
}

function toggleMute() {
  applyMute(!state.muted);
  send({ type: 'mute', muted: state.muted });
}

function toggleCamera() {
  const tracks = localStream ? localStream.getVideoTracks() : [];
  if (tracks.length === 0) return;
  state.videoOn = !state.videoOn;
  tracks.forEach(function (t) { t.enabled = state.videoOn; });
  send({ type: 'video', enabled: state.videoOn });
  renderControls();
}

function renderControls() {
  const mute = $('mute');
  mute.textContent = state.muted ? 'Unmute' : 'Mute';
  mute.setAttribute('aria-pressed', String(state.muted));
  const cam = $('camera');
  const hasVideo = !!localStream && localStream.getVideoTracks().length > 0;
  cam.disabled = !hasVideo;
  cam.textContent = !hasVideo ? 'No camera' : state.videoOn ? 'Camera off' : 'Camera on';
  cam.setAttribute('aria-pressed', String(hasVideo && !state.videoOn));
}

function renderParticipants() {
  const list = $('participants');
  const items = [];
  state.participants.forEach(function (p) {
    if (p.left_at) return;
    const li = el('li');
    li.dataset.participantId = p.participant_id;
    li.append(el('span', 'name', p.display_name));
    if (p.participant_id === state.me) li.append(el('span', 'tag', 'you'));
    if (p.is_agent) {
      // The agent speaks through the server (agent_speech), not over its own media connection.
      li.append(el('span', 'tag', 'agent'));
    } else {
      li.append(el('span', 'tag', p.is_muted ? 'muted' : 'mic on'));
      li.append(el('span', 'tag', p.is_video_enabled ? 'video on' : 'video off'));
      if (!p.connected) { li.classList.add('off'); li.append(el('span', 'tag', 'not connected')); }
    }
    items.push(li);
  });
  list.replaceChildren.apply(list, items);
  document.querySelectorAll('.tile[data-peer]').forEach(function (tile) {
    tile.querySelector('figcaption').textContent = nameOf(tile.dataset.peer);
  });
}

// ---- transcript ----------------------------------------------------------------------------
const seenLines = new Set();
function transcriptItem(l) {
  const li = el('li');
  li.append(el('span', 'who', nameOf(l.participant_id) + ':'), el('span', 'text', l.text));
  return li;
}

/** Lines arrive in order (append one item); only an earlier line (loaded after live ones) redraws. */
function addLine(line) {
  const key = line.at + '|' + line.participant_id + '|' + line.source + '|' + line.text;
  if (seenLines.has(key)) return;
  seenLines.add(key);
  const last = state.transcript[state.transcript.length - 1];
  state.transcript.push(line);
  const list = $('transcript');
  if (!last || last.at <= line.at) return list.append(transcriptItem(line));
  state.transcript.sort(function (a, b) { return a.at < b.at ? -1 : a.at > b.at ? 1 : 0; });
  list.replaceChildren.apply(list, state.transcript.map(transcriptItem));
}

async function loadTranscript() {
  try {
    const res = await fetch('/api/v2/calls/' + callId + '/transcript?token=' + encodeURIComponent(token), { cache: 'no-store' });
    if (!res.ok) return event('transcript_unavailable', res.status);
    const body = await res.json();
    body.transcript.forEach(addLine);
    event('transcript_loaded', body.transcript.length);
  } catch (err) {
    event('transcript_unavailable', String(err));
  }
}

// ---- the agent's voice -----------------------------------------------------------------------
async function playSpeech(msg) {
  if (!audioCtx) audioCtx = new AudioContext();
  if (audioCtx.state !== 'running') await audioCtx.resume().catch(function () {});
  const bytes = Uint8Array.from(atob(msg.audio), function (c) { return c.charCodeAt(0); });
  const buffer = await audioCtx.decodeAudioData(bytes.buffer);
  const source = audioCtx.createBufferSource();
  source.buffer = buffer;
  source.connect(audioCtx.destination);
  const startAt = Math.max(audioCtx.currentTime, speechEnd);
  speechEnd = startAt + buffer.duration;
  const entry = { text: msg.text, content_type: msg.content_type, duration: buffer.duration, sample_rate: buffer.sampleRate, context_state: audioCtx.state, ended: false };
  hooks.played.push(entry);
  source.onended = function () { entry.ended = true; };
  source.start(startAt);
}

// ---- media transports ------------------------------------------------------------------------
function createTransport(mode, iceServers) {
  return mode === 'sfu' ? createSfuTransport(iceServers) : createP2pMesh(iceServers);
}

/** Selected candidate pair, inbound streams by mid: the numbers both transports report. */
function readStats(report) {
  const byId = new Map();
  report.forEach(function (r) { byId.set(r.id, r); });
  const out = { audio: null, video: null, pair: null, inbound: [] };
  byId.forEach(function (r) {
    if (r.type === 'inbound-rtp') {
      const s = { mid: r.mid === undefined ? null : r.mid, kind: r.kind, packetsReceived: r.packetsReceived, bytesReceived: r.bytesReceived, totalAudioEnergy: r.totalAudioEnergy || 0, framesDecoded: r.framesDecoded || 0 };
      out.inbound.push(s);
      if (r.kind === 'audio' && !out.audio) out.audio = { packetsReceived: r.packetsReceived, bytesReceived: r.bytesReceived, totalAudioEnergy: r.totalAudioEnergy || 0 };
      if (r.kind === 'video' && !out.video) out.video = { packetsReceived: r.packetsReceived, framesDecoded: r.framesDecoded || 0 };
    }
    if (r.type === 'transport' && r.selectedCandidatePairId) {
      const pair = byId.get(r.selectedCandidatePairId);
      const local = pair && byId.get(pair.localCandidateId);
      const remote = pair && byId.get(pair.remoteCandidateId);
      if (pair) out.pair = { state: pair.state, local: local && (local.address || local.ip), remote: remote && (remote.address || remote.ip), localPort: local && local.port, remotePort: remote && remote.port, localType: local && local.candidateType, remoteType: remote && remote.candidateType };
    }
  });
  return out;
}

/**
 * SFU mode: one RTCPeerConnection to the Realtime SFU, through the Worker's proxy. Every
 * negotiation (push, pull, renegotiate, close) runs on one promise chain: the SFU session has
 * one offer/answer state machine, and a renegotiation must finish before the next change.
 */
function createSfuTransport(iceServers) {
  const base = '/api/v2/calls/' + callId + '/sfu/sessions';
  const pc = new RTCPeerConnection({ iceServers: iceServers, bundlePolicy: 'max-bundle' });
  // pulled: key "sessionId|trackName" -> {peer, sessionId, trackName, kind, via, mid, state: pending|open|open-closing|closed}
  const sfu = { sessionId: null, published: [], pulled: new Map(), closed: false, negotiations: [] };
  const byMid = new Map();
  let chain = Promise.resolve();
  hooks.pcs.set('sfu', pc);
  hooks.sfu = sfu;

  pc.onconnectionstatechange = function () {
    event('pc_state', { peer: 'sfu', state: pc.connectionState });
    if (pc.connectionState === 'failed' && !sfu.closed) notice('The media connection to the SFU failed; press Leave and join again.');
  };
  pc.ontrack = function (ev) {
    const entry = byMid.get(ev.transceiver.mid);
    if (!entry) return event('sfu_unknown_track', ev.transceiver.mid);
    attachRemote(entry.peer, ev.track, null);
  };

  /** Runs job after every earlier negotiation; a failure is shown, and the chain goes on. */
  function queue(what, job) {
    const run = chain.then(function () { if (!sfu.closed) return job(); });
    chain = run.catch(function (err) { if (!sfu.closed) fail(new Error('SFU ' + what + ': ' + (err && err.message ? err.message : String(err)))); });
    return run;
  }

  async function api(method, path, body) {
    const res = await fetch(base + path, {
      method: method,
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
    sfu.negotiations.push({ method: method, path: path.replace(/^\/[^/]+/, '/{session}'), status: res.status });
    if (!res.ok) {
      const err = new Error((json && (json.detail || json.title)) || ('HTTP ' + res.status));
      err.status = res.status;
      throw err;
    }
    return json;
  }
  function sessionPath(rest) { return '/' + encodeURIComponent(sfu.sessionId) + rest; }

  /** The SFU's description: an answer to apply, or an offer to answer (PUT …/renegotiate). */
  async function applySfuDescription(resp) {
    const sd = resp && resp.sessionDescription;
    if (!sd) return;
    if (resp.requiresImmediateRenegotiation || sd.type === 'offer') {
      await pc.setRemoteDescription(sd);
      await pc.setLocalDescription(await pc.createAnswer());
      await api('PUT', sessionPath('/renegotiate'), { sessionDescription: { type: 'answer', sdp: pc.localDescription.sdp } });
    } else {
      await pc.setRemoteDescription(sd);
    }
  }

  function stillHere(id) {
    const p = state.participants.get(id);
    return !!p && !p.left_at;
  }

  /** sessions/new, then push the microphone and camera (if any) as sendonly transceivers. */
  queue('session', async function () {
    const created = await api('POST', '', {});
    sfu.sessionId = created.sessionId;
    event('sfu_session', sfu.sessionId);
    const tracks = localStream ? localStream.getTracks() : [];
    if (tracks.length === 0) return;
    const added = tracks.map(function (t) { return { track: t, transceiver: pc.addTransceiver(t, { direction: 'sendonly', streams: [localStream] }) }; });
    await pc.setLocalDescription(await pc.createOffer());
    const wanted = added.map(function (a) { return { location: 'local', mid: a.transceiver.mid, trackName: state.me + '-' + a.track.kind, media_type: a.track.kind }; });
    const resp = await api('POST', sessionPath('/tracks'), { sessionDescription: { type: 'offer', sdp: pc.localDescription.sdp }, tracks: wanted });
    await applySfuDescription(resp);
    wanted.forEach(function (w) {
      const r = (resp.tracks || []).find(function (t) { return t.mid === w.mid; });
      if (r && r.errorCode) fail(new Error('The SFU refused your ' + w.media_type + ': ' + (r.errorDescription || r.errorCode)));
      else sfu.published.push({ mid: w.mid, trackName: w.trackName, kind: w.media_type });
    });
    event('sfu_published', sfu.published.map(function (p) { return p.trackName; }));
  });

  function pull(peer, sessionId, trackName, kind, via) {
    if (!sessionId || !trackName || peer === state.me) return;
    const key = sessionId + '|' + trackName;
    if (sfu.pulled.has(key)) return;
    const entry = { peer: peer, sessionId: sessionId, trackName: trackName, kind: kind, via: via, mid: null, state: 'pending' };
    sfu.pulled.set(key, entry);
    queue('pull', async function () {
      if (entry.state !== 'pending') return; // closed before its turn
      let resp;
      try {
        resp = await api('POST', sessionPath('/tracks'), { tracks: [{ location: 'remote', sessionId: sessionId, trackName: trackName }] });
      } catch (err) {
        sfu.pulled.delete(key);
        // The publisher left (or replaced its session) meanwhile: nothing to pull any more.
        if (!stillHere(peer) || entry.state === 'closed') return event('sfu_pull_skipped', { peer: peer, trackName: trackName, error: String(err.message) });
        throw err;
      }
      const r = (resp.tracks || []).find(function (t) { return t.sessionId === sessionId && t.trackName === trackName; });
      if (r && r.mid && !r.errorCode) {
        entry.mid = r.mid;
        byMid.set(r.mid, entry);
        if (entry.state === 'pending') entry.state = 'open';
        else entry.state = 'open-closing'; // closed while in flight: the queued close handles it
      } else {
        sfu.pulled.delete(key);
        if (stillHere(peer) && entry.state !== 'closed') fail(new Error('The SFU refused ' + trackName + ': ' + ((r && (r.errorDescription || r.errorCode)) || 'no such track')));
      }
      await applySfuDescription(resp);
      event('sfu_pulled', { peer: peer, trackName: trackName, mid: entry.mid });
    });
  }

  /** Stops pulling the matching tracks: transceivers stopped, offer → tracks/close → answer. */
  function closePulled(match) {
    const entries = Array.from(sfu.pulled.entries()).filter(function (e) { return match(e[1]); });
    if (entries.length === 0) return Promise.resolve();
    entries.forEach(function (e) {
      sfu.pulled.delete(e[0]);
      if (e[1].state === 'pending') e[1].state = 'closed';
    });
    return queue('close', async function () {
      const open = entries.map(function (e) { return e[1]; }).filter(function (e) { return e.state === 'open' || e.state === 'open-closing'; });
      open.forEach(function (e) { e.state = 'closed'; });
      entries.forEach(function (e) { dropTile(e[1].peer); });
      if (open.length === 0) return;
      open.forEach(function (e) {
        const t = pc.getTransceivers().find(function (x) { return x.mid === e.mid; });
        if (t && !t.stopped) t.stop();
        byMid.delete(e.mid);
      });
      await pc.setLocalDescription(await pc.createOffer());
      const resp = await api('PUT', sessionPath('/tracks/close'), { tracks: open.map(function (e) { return { mid: e.mid }; }), force: false, sessionDescription: { type: 'offer', sdp: pc.localDescription.sdp } });
      await applySfuDescription(resp);
      event('sfu_closed', open.map(function (e) { return e.trackName; }));
    });
  }

  /** The peer's tile goes once none of its tracks is pulled any more. */
  function dropTile(peer) {
    const still = Array.from(sfu.pulled.values()).some(function (e) { return e.peer === peer; });
    if (still) return;
    const tile = document.querySelector('.tile[data-peer="' + CSS.escape(peer) + '"]');
    if (tile) tile.remove();
  }

  /** A participant present when we joined (or joining later): pull what it already publishes. */
  function addPeer(id) {
    const p = state.participants.get(id);
    if (!p || !p.sfu_session_id) return;
    (p.media_streams || []).forEach(function (s) { pull(id, p.sfu_session_id, s.track_name || s.stream_id, s.media_type, 'roster'); });
  }

  function removePeer(id) { closePulled(function (e) { return e.peer === id; }); }

  function signal(msg) {
    if (msg.type === 'track_published') return pull(msg.participant_id, msg.sfu_session_id, msg.stream.track_name || msg.stream.stream_id, msg.stream.media_type, 'track_published');
    if (msg.type === 'track_closed') return closePulled(function (e) { return e.sessionId === msg.sfu_session_id && e.trackName === msg.stream_id; });
    event('p2p_frame_in_sfu_mode', msg.type);
  }

  async function stats() {
    if (sfu.closed) return {};
    const s = readStats(await pc.getStats());
    s.inbound.forEach(function (i) { const e = i.mid === null ? null : byMid.get(i.mid); i.peer = e ? e.peer : null; i.trackName = e ? e.trackName : null; });
    return {
      sfu: Object.assign(s, {
        sessionId: sfu.sessionId,
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        signalingState: pc.signalingState,
        published: sfu.published.slice(),
        pulled: Array.from(sfu.pulled.values()).map(function (e) { return { peer: e.peer, trackName: e.trackName, mid: e.mid, state: e.state, via: e.via }; }),
      }),
    };
  }

  /** Before the leave frame: close every mid of ours at once (no SDP: the connection goes next). */
  function leave() {
    return queue('leave', async function () {
      const mids = sfu.published.map(function (p) { return p.mid; }).concat(Array.from(sfu.pulled.values()).filter(function (e) { return e.mid; }).map(function (e) { return e.mid; }));
      if (!sfu.sessionId || mids.length === 0) return;
      await api('PUT', sessionPath('/tracks/close'), { tracks: mids.map(function (mid) { return { mid: mid }; }), force: true });
      sfu.published = [];
      sfu.pulled.clear();
      event('sfu_left', mids.length);
    });
  }

  function close() {
    if (sfu.closed) return;
    sfu.closed = true;
    pc.close();
    if (hooks.pcs.get('sfu') === pc) hooks.pcs.delete('sfu');
    document.querySelectorAll('.tile[data-peer]').forEach(function (tile) { tile.remove(); });
  }

  return { kind: 'sfu', addPeer: addPeer, removePeer: removePeer, signal: signal, stats: stats, leave: leave, close: close };
}

/** One RTCPeerConnection per remote participant, perfect negotiation over the call's socket. */
function createP2pMesh(iceServers) {
  const peers = new Map();

  function addPeer(id) {
    removePeer(id);
    const pc = new RTCPeerConnection({ iceServers: iceServers });
    const peer = { pc: pc, polite: state.me > id, makingOffer: false, ignoreOffer: false, pendingIce: [], ice: { sent: 0, received: 0, added: 0, dropped: 0 } };
    peers.set(id, peer);
    hooks.pcs.set(id, pc);
    pc.onicecandidate = function (ev) {
      if (ev.candidate) peer.ice.sent++;
      send({ type: 'ice', to: id, candidate: ev.candidate ? ev.candidate.toJSON() : null });
    };
    pc.onicegatheringstatechange = function () { event('ice_gathering', { peer: id, state: pc.iceGatheringState }); };
    pc.onnegotiationneeded = async function () {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        send({ type: pc.localDescription.type, to: id, sdp: pc.localDescription.sdp });
      } catch (err) {
        fail(err);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.ontrack = function (ev) { attachRemote(id, ev.track, ev.streams[0]); };
    pc.onconnectionstatechange = function () {
      event('pc_state', { peer: id, state: pc.connectionState });
      if (pc.connectionState === 'failed') pc.restartIce();
    };
    // Only the impolite side makes the first offer; the polite one adds its tracks when it answers.
    // Both offering at once is handled (perfect negotiation), but after the rollback that glare
    // causes, Chromium sometimes never gathers candidates again (seen in about one call in four).
    if (!peer.polite) {
      addLocalTracks(peer);
      // Offer to receive both kinds even without a microphone or camera, so the other side can send.
      ['audio', 'video'].forEach(function (kind) {
        if (!pc.getTransceivers().some(function (t) { return t.receiver.track.kind === kind; })) pc.addTransceiver(kind, { direction: 'recvonly' });
      });
    }
    return peer;
  }

  function addLocalTracks(peer) {
    if (peer.tracksAdded || !localStream) return;
    peer.tracksAdded = true;
    // After an offer, addTrack reuses its transceivers, so the answer carries our media.
    localStream.getTracks().forEach(function (t) { peer.pc.addTrack(t, localStream); });
  }

  function removePeer(id) {
    const peer = peers.get(id);
    if (!peer) return;
    peer.pc.close();
    peers.delete(id);
    hooks.pcs.delete(id);
    const tile = document.querySelector('.tile[data-peer="' + CSS.escape(id) + '"]');
    if (tile) tile.remove();
  }

  async function signal(msg) {
    let peer = peers.get(msg.from);
    if (!peer) {
      if (msg.type !== 'offer') return event('signal_for_unknown_peer', msg.type);
      peer = addPeer(msg.from);
    }
    const pc = peer.pc;
    if (msg.type === 'ice') {
      if (!msg.candidate) return;
      peer.ice.received++;
      if (!pc.remoteDescription) {
        if (peer.ignoreOffer) peer.ice.dropped++;
        else peer.pendingIce.push(msg.candidate);
        return;
      }
      try {
        await pc.addIceCandidate(msg.candidate);
        peer.ice.added++;
      } catch (err) {
        peer.ice.dropped++;
        if (!peer.ignoreOffer) throw err;
      }
      return;
    }
    const collision = msg.type === 'offer' && (peer.makingOffer || pc.signalingState !== 'stable');
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return event('offer_ignored', msg.from);
    await pc.setRemoteDescription({ type: msg.type, sdp: msg.sdp });
    for (const c of peer.pendingIce.splice(0)) {
      await pc.addIceCandidate(c).then(function () { peer.ice.added++; }, function (err) { peer.ice.dropped++; event('late_candidate_refused', String(err)); });
    }
    if (msg.type === 'offer') {
      addLocalTracks(peer);
      await pc.setLocalDescription();
      send({ type: 'answer', to: msg.from, sdp: pc.localDescription.sdp });
    }
  }

  async function stats() {
    const out = {};
    for (const [id, peer] of peers) {
      const state = { connectionState: peer.pc.connectionState, iceConnectionState: peer.pc.iceConnectionState, signalingState: peer.pc.signalingState, iceGatheringState: peer.pc.iceGatheringState, polite: peer.polite, ice: peer.ice };
      const s = Object.assign(readStats(await peer.pc.getStats()), state);
      out[id] = s;
    }
    return out;
  }

  function close() { Array.from(peers.keys()).forEach(removePeer); }

  return { kind: 'p2p', addPeer: addPeer, removePeer: removePeer, signal: signal, stats: stats, leave: function () { return Promise.resolve(); }, close: close };
}

function attachRemote(id, track, stream) {
  let tile = document.querySelector('.tile[data-peer="' + CSS.escape(id) + '"]');
  if (!tile) {
    tile = el('figure', 'tile');
    tile.dataset.peer = id;
    const video = el('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // the sound plays through the audio element
    tile.append(video, el('audio'), el('figcaption', null, nameOf(id)));
    $('media').append(tile);
  }
  if (track.kind === 'audio') {
    // Chromium only plays out (and meters) a remote track attached to a playing element.
    const audio = tile.querySelector('audio');
    audio.srcObject = new MediaStream([track]);
    audio.play().catch(function (err) { event('audio_play_refused', String(err)); notice('Your browser blocked the sound; click anywhere on the page to hear the call.'); });
  } else {
    tile.querySelector('video').srcObject = stream || new MediaStream([track]);
  }
  event('remote_track', { peer: id, kind: track.kind });
}
`;
