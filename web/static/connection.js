// The connection to the session: one websocket (visualizer/PROTOCOL.md),
// reconnected when it drops. The control token, if the page was opened with
// one, is taken out of the address bar at once — a projected address must
// not hand control to the room — and kept for this tab only.

const TOKEN_KEY = 'raftviz-token';

export class Connection {
  constructor({ onFrame, onOpen, onClose }) {
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.ws = null;
    this.nextID = 1;
    this.token = takeToken();
  }

  connect(delay = 0) {
    setTimeout(() => {
      const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' +
        (this.token ? '?token=' + encodeURIComponent(this.token) : '');
      const ws = new WebSocket(url);
      this.ws = ws;
      ws.onmessage = e => this.onFrame(JSON.parse(e.data));
      ws.onopen = () => this.onOpen();
      ws.onclose = () => {
        this.onClose();
        this.connect(Math.min(5000, delay * 2 + 500));
      };
    }, delay);
  }

  // send sends a command; it returns false when not connected.
  send(cmd) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    cmd.id = this.nextID++;
    this.ws.send(JSON.stringify(cmd));
    return true;
  }
}

// takeToken reads ?token= from the address, removes it from the address bar
// (history.replaceState: no reload, no history entry), and keeps it in this
// tab's session storage so that a reload keeps control.
function takeToken() {
  const params = new URLSearchParams(location.search);
  let token = params.get('token');
  if (token !== null) {
    params.delete('token');
    const q = params.toString();
    history.replaceState(history.state, '', location.pathname + (q ? '?' + q : '') + location.hash);
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* storage disabled: control lasts until reload */ }
  } else {
    try { token = sessionStorage.getItem(TOKEN_KEY); } catch { token = null; }
  }
  return token || '';
}
