extension DashboardAssets {
    /// The page's logic: login, the federation as server-sent events, and one Media Source
    /// Extensions player per stream (fragmented MP4 over a streamed fetch), whose frame rate
    /// and latency are measured in the page with requestVideoFrameCallback and the camera's
    /// `prft` times.
    static let script = ##"""
        'use strict';
        const $ = (selector, root = document) => root.querySelector(selector);
        const palette = ['#4aa3ff', '#f5b041', '#2ecc71', '#c39bd3', '#ff7f7f', '#48c9b0', '#f0e68c'];
        const players = new Map();
        let view = null, events = null, shown = 'federation', domainColors = new Map();

        function el(tag, attrs = {}, ...children) {
          const node = document.createElement(tag);
          for (const [key, value] of Object.entries(attrs)) {
            if (key === 'class') node.className = value; else if (key === 'style') node.style.cssText = value; else node.setAttribute(key, value);
          }
          for (const child of children.flat()) if (child != null) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          return node;
        }
        function colorOf(domain) {
          if (!domainColors.has(domain)) domainColors.set(domain, palette[domainColors.size % palette.length]);
          return domainColors.get(domain);
        }
        function ago(date) {
          if (!date) return 'never';
          const s = Math.max(0, (Date.now() - new Date(date).getTime()) / 1000);
          if (s < 60) return `${Math.round(s)} s ago`;
          if (s < 3600) return `${Math.round(s / 60)} min ago`;
          return `${Math.round(s / 3600)} h ago`;
        }
        function bytes(n) {
          const units = ['B', 'kB', 'MB', 'GB', 'TB'];
          let i = 0; while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
          return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
        }

        // Login
        function showLogin(message) {
          if (events) { events.close(); events = null; }
          for (const player of players.values()) player.stop();
          players.clear();
          $('#login').hidden = false; $('#tabs').hidden = true; $('#logout').hidden = true;
          $('#federation-view').hidden = true; $('#wall-view').hidden = true;
          $('#login-error').textContent = message || '';
          setLink(false);
        }
        async function login(token) {
          const response = await fetch('/dashboard/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
          if (response.ok) return start();
          let message = `login refused (${response.status})`;
          try { message = (await response.json()).error.message; } catch (e) {}
          showLogin(message);
        }
        function start() {
          $('#login').hidden = true; $('#tabs').hidden = false; $('#logout').hidden = false;
          show(location.hash === '#wall' ? 'wall' : 'federation');
          connect();
        }
        function connect() {
          events = new EventSource('/dashboard/api/events');
          events.onmessage = (message) => { view = JSON.parse(message.data); setLink(true); render(); };
          events.onerror = async () => {
            setLink(false);
            if (events) events.close();
            events = null;
            const check = await fetch('/dashboard/api/federation').catch(() => null);
            if (check && check.status === 401) return showLogin('Your login has ended. Log in again.');
            setTimeout(() => { if (!events && $('#login').hidden) connect(); }, 1000);
          };
        }
        function setLink(on) {
          const link = $('#link');
          link.className = `link ${on ? 'on' : 'off'}`;
          link.textContent = on ? 'live' : 'offline';
        }
        function show(name) {
          shown = name;
          for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.view === name);
          $('#federation-view').hidden = name !== 'federation';
          $('#wall-view').hidden = name !== 'wall';
          history.replaceState(null, '', location.search + (name === 'wall' ? '#wall' : '#federation'));
          // Video is decoded only while the wall is on screen.
          if (name !== 'wall') for (const player of players.values()) player.stop();
          render();
        }

        // Federation view
        function render() {
          if (!view) return;
          $('#federation').textContent = view.federation;
          renderKPIs(); renderDomains(); renderExposures(); renderStreams(); renderPolicy(); renderWall();
        }
        function kpi(label, value, sub, attrs = {}) {
          return el('div', Object.assign({ class: 'kpi' }, attrs), el('div', { class: 'l' }, label), el('div', { class: 'v' }, value), el('div', { class: 's' }, sub));
        }
        function renderKPIs() {
          const nodes = view.domains.flatMap((d) => d.nodes);
          const online = nodes.filter((n) => n.online).length;
          const tunnels = nodes.filter((n) => n.tunnel);
          const healthy = tunnels.filter((n) => n.online && n.tunnel.lastHandshake && (Date.now() - new Date(n.tunnel.lastHandshake)) < 180000).length;
          const live = view.streams.filter((s) => s.state === 'live').length;
          const policy = view.policy;
          $('#kpis').replaceChildren(
            kpi('Domains', view.domains.length, view.domains.map((d) => d.name).join(' · ')),
            kpi('Nodes online', `${online} / ${nodes.length}`, online === nodes.length ? 'all reachable' : `${nodes.length - online} offline`),
            kpi('Tunnels healthy', `${healthy} / ${tunnels.length}`, 'WireGuard handshake < 3 min'),
            kpi('Exposures', view.exposures.length, 'services shared across domains'),
            kpi('Policy', policy.version == null ? 'default' : `v${policy.version}`, `applied by ${policy.appliedBy.length} of ${policy.appliedBy.length + policy.pendingOn.length} online`, { 'data-policy-version': policy.version == null ? 'default' : String(policy.version) }),
            kpi('Streams live', `${live} / ${view.streams.length}`, live ? 'on the video wall' : 'no camera streaming'));
        }
        function renderDomains() {
          $('#domains').replaceChildren(...view.domains.map((domain) => {
            const online = domain.nodes.filter((n) => n.online).length;
            return el('div', { class: 'domain', style: `--dc:${colorOf(domain.name)}`, 'data-domain': domain.name },
              el('h3', {}, domain.name, el('span', { class: 'count' }, `${online}/${domain.nodes.length} nodes online`)),
              ...domain.nodes.map(renderNode));
          }));
        }
        function renderNode(node) {
          const lag = node.versionLag == null ? el('span', { class: 'badge warn' }, 'map not applied yet')
            : node.versionLag === 0 ? el('span', { class: 'badge ok' }, `map v${node.appliedVersion} ✓`) : el('span', { class: 'badge warn' }, `${node.versionLag} version(s) behind`);
          const tunnel = node.tunnel ? el('div', { class: 'tunnel' },
            el('div', {}, 'handshake ', el('b', {}, ago(node.tunnel.lastHandshake)), node.tunnel.path ? ['  path ', el('b', { 'data-path': node.tunnel.path }, node.tunnel.path)] : ''),
            el('div', {}, '↓ ', el('b', {}, bytes(node.tunnel.receivedBytes)), '  ↑ ', el('b', {}, bytes(node.tunnel.sentBytes))),
            el('div', {}, 'RTT ', el('b', {}, node.tunnel.rttMilliseconds == null ? '—' : `${node.tunnel.rttMilliseconds.toFixed(2)} ms`)))
            : el('div', { class: 'tunnel' }, node.role === 'master' ? 'WireGuard hub' : 'no tunnel');
          return el('div', { class: 'node', 'data-node': node.name, 'data-online': String(node.online) },
            el('span', { class: `dot ${node.online ? 'on' : ''}` }),
            el('div', {},
              el('div', {}, el('span', { class: 'name' }, node.name), el('span', { class: `badge ${node.role}` }, node.role), lag),
              el('div', { class: 'meta' }, el('b', {}, node.address), ` · last seen ${ago(node.lastSeen)}`, node.runsWorkloads ? ' · runs workloads' : ' · no workloads'),
              node.tasks.length ? el('div', { class: 'chips' }, node.tasks.map((t) => el('span', { class: 'chip' }, t))) : null),
            tunnel);
        }
        function renderExposures() {
          const rows = view.exposures.map((x) => el('tr', { 'data-exposure': x.name },
            el('td', {}, el('b', {}, x.name)), el('td', {}, el('code', {}, x.dnsName)),
            el('td', {}, `${x.node} (${x.domain})`), el('td', {}, `${x.proto}/${x.port}`),
            el('td', {}, x.allowedFrom.length ? el('div', { class: 'chips' }, x.allowedFrom.map((n) => el('span', { class: 'chip' }, n))) : el('span', { class: 'muted' }, 'nobody (policy)'))));
          $('#exposures').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No domain exposes a service.'))]));
        }
        function renderStreams() {
          const rows = view.streams.map((s) => el('tr', { 'data-stream-row': s.id },
            el('td', {}, el('b', {}, s.camera), el('span', { class: 'badge' }, s.domain)), el('td', {}, s.node),
            el('td', {}, el('span', { class: `badge ${s.state === 'live' ? 'ok' : 'warn'}` }, s.state)),
            el('td', {}, s.ingestFPS.toFixed(1)), el('td', {}, `${(s.bitsPerSecond / 1e6).toFixed(2)} Mbit/s`),
            el('td', {}, s.latencyMilliseconds == null ? '—' : `${s.latencyMilliseconds.toFixed(0)} ms`),
            el('td', {}, `${s.frames} (${s.droppedFrames})`), el('td', {}, s.viewers)));
          $('#streams').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '8', class: 'muted' }, 'No camera streams to the crisis centre.'))]));
        }
        function renderPolicy() {
          const p = view.policy;
          $('#policy').replaceChildren(el('div', { class: 'meta' },
            el('b', {}, p.version == null ? 'default policy' : `version ${p.version}`), ` · ${p.rules} rule(s) · network map v${view.mapVersion} · `,
            'applied by ', el('b', {}, p.appliedBy.join(', ') || 'nobody'),
            p.pendingOn.length ? [' · pending on ', el('b', {}, p.pendingOn.join(', '))] : ''));
        }

        // Video wall
        function renderWall() {
          const wall = $('#wall');
          // ?tiles=N: a wall of the first N live streams.
          const limit = parseInt(new URLSearchParams(location.search).get('tiles') || '', 10);
          const streams = limit > 0 ? view.streams.filter((s) => s.state === 'live').slice(0, limit) : view.streams;
          $('#wall-empty').hidden = streams.length > 0;
          const cols = Math.max(1, Math.ceil(Math.sqrt(streams.length)));
          wall.style.setProperty('--cols', String(cols));
          wall.style.setProperty('--rows', String(Math.max(1, Math.ceil(streams.length / cols))));
          const ids = new Set(streams.map((s) => s.id));
          for (const [id, player] of players) if (!ids.has(id)) { player.stop(); player.tile.remove(); players.delete(id); }
          streams.forEach((stream, index) => {
            let player = players.get(stream.id);
            if (!player) { player = new Player(stream); players.set(stream.id, player); }
            if (wall.children[index] !== player.tile) wall.insertBefore(player.tile, wall.children[index] || null);
            player.update(stream);
          });
        }

        class Player {
          constructor(stream) {
            this.id = stream.id;
            this.video = el('video', { muted: '', playsinline: '', autoplay: '' });
            this.video.muted = true;
            this.fps = el('span', { class: 'fps poor' }, '— fps');
            this.info = el('span', {}, '');
            this.reason = el('small', {}, '');
            this.tile = el('div', { class: 'tile', style: `--dc:${colorOf(stream.domain)}`, 'data-stream': stream.id, 'data-state': 'ended', 'data-fps': '0' },
              this.video,
              el('div', { class: 'top' }, el('span', { class: 'label' }, el('span', { class: 'dom' }, stream.domain), stream.camera, el('span', { class: 'rec' }, '● LIVE')), this.fps),
              el('div', { class: 'bottom' }, this.info, el('span', {}, `via ${stream.node}`)),
              el('div', { class: 'nosignal' }, 'NO SIGNAL', this.reason));
            this.samples = []; this.prft = new Map(); this.latency = null; this.running = false;
          }
          update(stream) {
            this.stream = stream;
            this.tile.dataset.state = stream.state;
            this.reason.textContent = stream.state === 'stalled' ? 'camera stalled' : 'camera stopped';
            if (stream.state === 'live' && !this.running && shown === 'wall') this.start();
            if (stream.state === 'ended' && this.running) this.stop();
            if (stream.state !== 'live') { this.fps.textContent = '0 fps'; this.fps.className = 'fps poor'; this.tile.dataset.fps = '0'; }
            this.showInfo();
          }
          showInfo() {
            const s = this.stream;
            const latency = this.latency == null ? '—' : `${Math.round(this.latency)} ms`;
            this.info.textContent = `latency ${latency} · ingest ${s.ingestFPS.toFixed(1)} fps · ${(s.bitsPerSecond / 1e6).toFixed(2)} Mbit/s`;
          }
          stop() {
            this.running = false;
            this.tile.dataset.fps = '0'; this.tile.dataset.playing = '0';
            this.fps.textContent = '— fps'; this.fps.className = 'fps poor';
            if (this.abort) this.abort.abort();
            this.abort = null;
            this.video.removeAttribute('src'); this.video.load();
          }
          async start() {
            this.running = true;
            this.abort = new AbortController();
            const signal = this.abort.signal;
            try {
              const source = new MediaSource();
              this.video.src = URL.createObjectURL(source);
              await new Promise((resolve) => source.addEventListener('sourceopen', resolve, { once: true }));
              const [domain, camera] = this.id.split('/');
              const response = await fetch(`/dashboard/api/streams/${encodeURIComponent(domain)}/${encodeURIComponent(camera)}/video`, { signal });
              if (response.status === 401) return showLogin('Your login has ended. Log in again.');
              if (!response.ok) throw new Error(`video ${response.status}`);
              await this.pump(response.body.getReader(), source, signal);
            } catch (error) {
              if (signal.aborted) return;
            }
            // The stream ended or broke: start again at the next keyframe while it is live.
            if (this.running && !signal.aborted) { this.running = false; setTimeout(() => { if (this.stream && this.stream.state === 'live' && !this.running && shown === 'wall') this.start(); }, 500); }
          }
          async pump(reader, source, signal) {
            let pending = new Uint8Array(0), buffer = null, queue = [], timescale = 90000;
            const append = () => {
              if (!buffer || buffer.updating || !queue.length) return;
              const total = queue.reduce((n, c) => n + c.length, 0), chunk = new Uint8Array(total);
              let offset = 0; for (const c of queue) { chunk.set(c, offset); offset += c.length; }
              queue = [];
              try { buffer.appendBuffer(chunk); } catch (e) { this.trim(buffer, true); }
            };
            this.watchFrames();
            for (;;) {
              const { value, done } = await reader.read();
              if (done || signal.aborted) return;
              const data = new Uint8Array(pending.length + value.length);
              data.set(pending); data.set(value, pending.length);
              let offset = 0;
              while (data.length - offset >= 8) {
                const view = new DataView(data.buffer, data.byteOffset + offset);
                const size = view.getUint32(0), type = String.fromCharCode(...data.subarray(offset + 4, offset + 8));
                if (size < 8 || data.length - offset < size) break;
                const box = data.subarray(offset, offset + size);
                if (type === 'moov') {
                  timescale = mediaTimescale(box) || timescale;
                  buffer = source.addSourceBuffer(`video/mp4; codecs="${avcCodec(box)}"`);
                  buffer.addEventListener('updateend', () => { this.chase(buffer); append(); });
                } else if (type === 'prft') {
                  const v = new DataView(box.buffer, box.byteOffset);
                  const wall = (v.getUint32(16) - 2208988800) * 1000 + v.getUint32(20) / 4294967.296;
                  const media = box[8] === 1 ? Number(v.getBigUint64(24)) : v.getUint32(24);
                  this.prft.set(Math.round(media / timescale * 1000), wall);
                  if (this.prft.size > 500) this.prft.delete(this.prft.keys().next().value);
                }
                queue.push(box.slice());
                offset += size;
              }
              pending = data.slice(offset);
              append();
            }
          }
          // Stay near the live edge: far behind, jump; a little behind, play 10 % faster.
          // Keep at most 10 s of video in the buffer.
          chase(buffer) {
            const video = this.video, ranges = video.buffered;
            if (!ranges.length) return;
            const end = ranges.end(ranges.length - 1), lag = end - video.currentTime;
            if (video.currentTime < ranges.start(0) || lag > 2) video.currentTime = Math.max(ranges.start(0), end - 0.2);
            video.playbackRate = lag > 0.3 ? 1.1 : 1;
            if (video.paused) video.play().catch(() => {});
            this.trim(buffer, false);
          }
          trim(buffer, all) {
            const video = this.video, ranges = video.buffered;
            if (!ranges.length || buffer.updating) return;
            const cut = all ? ranges.end(ranges.length - 1) : video.currentTime - 10;
            if (cut > ranges.start(0) + 1) buffer.remove(ranges.start(0), cut);
          }
          watchFrames() {
            const video = this.video, generation = this.generation = (this.generation || 0) + 1;
            this.firstFrameAt = null; this.samples = [];
            if (!('requestVideoFrameCallback' in video)) return;
            const frame = (now, meta) => {
              if (!this.running || generation !== this.generation) return;
              const t = performance.now();
              if (this.firstFrameAt == null) this.firstFrameAt = t;
              this.samples.push([t, meta.presentedFrames]);
              while (this.samples.length && t - this.samples[0][0] > 2000) this.samples.shift();
              const wall = this.prft.get(Math.round(meta.mediaTime * 1000));
              if (wall) this.latency = Date.now() - wall;
              video.requestVideoFrameCallback(frame);
            };
            video.requestVideoFrameCallback(frame);
          }
          measure() {
            if (!this.running || this.samples.length < 2) return;
            const [t0, f0] = this.samples[0], [t1, f1] = this.samples[this.samples.length - 1];
            const now = performance.now();
            const fps = now - t1 > 1000 ? 0 : (f1 - f0) * 1000 / Math.max(1, t1 - t0);
            this.tile.dataset.fps = fps.toFixed(1);
            // Seconds this player has shown frames: its fps is steady after a few.
            this.tile.dataset.playing = ((now - this.firstFrameAt) / 1000).toFixed(1);
            this.tile.dataset.latency = this.latency == null ? '' : String(Math.round(this.latency));
            this.fps.textContent = `${fps.toFixed(1)} fps`;
            this.fps.className = `fps ${fps >= 24 ? 'good' : fps >= 15 ? 'fair' : 'poor'}`;
            if (this.stream) this.showInfo();
          }
        }
        function findBox(box, path) {
          let offset = 8, end = box.length;
          for (const name of path) {
            let found = false;
            while (offset + 8 <= end) {
              const size = new DataView(box.buffer, box.byteOffset + offset).getUint32(0);
              const type = String.fromCharCode(...box.subarray(offset + 4, offset + 8));
              if (size < 8) return null;
              if (type === name) { found = true; end = offset + size; offset += 8; break; }
              offset += size;
            }
            if (!found) return null;
          }
          return box.subarray(offset, end);
        }
        function mediaTimescale(moov) {
          const mdhd = findBox(moov, ['trak', 'mdia', 'mdhd']);
          if (!mdhd) return null;
          const v = new DataView(mdhd.buffer, mdhd.byteOffset);
          return v.getUint32(mdhd[0] === 1 ? 20 : 12);
        }
        function avcCodec(moov) {
          const stsd = findBox(moov, ['trak', 'mdia', 'minf', 'stbl', 'stsd']);
          if (stsd) for (let i = 0; i + 8 < stsd.length; i++) {
            if (stsd[i] === 0x61 && stsd[i + 1] === 0x76 && stsd[i + 2] === 0x63 && stsd[i + 3] === 0x43) {
              const hex = (b) => b.toString(16).padStart(2, '0');
              return `avc1.${hex(stsd[i + 5])}${hex(stsd[i + 6])}${hex(stsd[i + 7])}`;
            }
          }
          return 'avc1.64001f';
        }

        document.addEventListener('DOMContentLoaded', async () => {
          for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => show(tab.dataset.view));
          $('#login-form').addEventListener('submit', (event) => { event.preventDefault(); login($('#token').value.trim()); });
          $('#logout').addEventListener('click', async () => { await fetch('/dashboard/logout', { method: 'POST' }); showLogin('Logged out.'); });
          setInterval(() => {
            $('#clock').textContent = new Date().toLocaleTimeString();
            for (const player of players.values()) player.measure();
          }, 500);
          const token = new URLSearchParams(location.hash.slice(1)).get('login');
          if (token) { history.replaceState(null, '', '#federation'); return login(token); }
          const check = await fetch('/dashboard/api/federation').catch(() => null);
          if (check && check.ok) start(); else showLogin('');
        });
        """##
}
