// Events in words, for the step line and the list of recent events. A
// message is said in its one text form, written by the server
// (raft.Message.String, the event's "say"); the page never re-spells it.

const name = id => (id ? 'n' + id : 'none');

export function describeEvent(e) {
  const n = name(e.node);
  switch (e.kind) {
    case 'send': return `${n} sends ${e.say || e.msg.type}`;
    case 'deliver': return `${n} receives ${e.say || e.msg.type}${e.text === 'duplicate' ? ' (a duplicate)' : ''}`;
    case 'drop': return `lost: ${e.say || e.msg.type} — ${e.text || 'dropped'}`;
    case 'term': return `${n}'s currentTerm becomes ${e.term}`;
    case 'vote': return e.vote ? `${n} votes for ${name(e.vote)} in term ${e.term}` : `${n} has not voted yet in term ${e.term}`;
    case 'role':
      if (e.role === 'leader') return `${n} becomes leader of term ${e.term}`;
      if (e.role === 'candidate') return `${n} becomes a candidate for term ${e.term}`;
      return `${n} is a follower in term ${e.term}${e.leader ? ', of leader ' + name(e.leader) : ''}`;
    case 'log': {
      const es = e.entries || [];
      const list = `${es.slice(0, 4).map(entry).join(', ')}${es.length > 4 ? ` … (${es.length} entries)` : ''}`;
      // With a term, the whole log is replaced: it now follows a snapshot
      // whose last entry is index-1 of that term (an installed snapshot,
      // or a log restored from storage); the entries before are not in it.
      if (e.term) {
        const base = `${n}'s whole log is replaced: it starts after its snapshot through index ${e.index - 1} (term ${e.term})`;
        return es.length ? `${base}, with ${list}` : `${base}, and holds no entry after it`;
      }
      if (!es.length) return `${n}'s log is cut after index ${e.index - 1}`;
      return `${n}'s log from index ${e.index}: ${list}`;
    }
    case 'commit': return `${n}'s commitIndex becomes ${e.index}`;
    case 'apply': return `${n} applies entry ${e.index}${e.entries && e.entries[0] ? ' (' + cmd(e.entries[0]) + ')' : ''}`;
    case 'save-state': return `${n} saves currentTerm ${e.term} and votedFor ${name(e.vote)}`;
    case 'save-log': return `${n} saves its log from index ${e.index} (${(e.entries || []).length} entries)`;
    case 'propose': {
      const c = e.entries && e.entries[0] ? cmd(e.entries[0]) : '';
      return e.term ? `a client proposes ${c} to ${n}: index ${e.index} in term ${e.term}` : `a client proposes ${c} to ${n}, which refuses: it is not the leader`;
    }
    case 'hold': return `held on its way: ${e.say || e.msg.type} — it waits until delivered or dropped`;
    case 'release': return `the held ${e.say || e.msg.type} is delivered now`;
    case 'discard': return `dropped on its way: ${e.say || e.msg.type}`;
    case 'duplicate': return `a copy of ${e.say || e.msg.type} is delivered now`;
    case 'snapshot': return `${n} saves a snapshot through index ${e.index} (term ${e.term}) and discards its log up to there`;
    case 'restore': return `${n}'s state machine is restored from a snapshot through index ${e.index} (term ${e.term})`;
    case 'compact': return `${n}'s state machine hands it a snapshot of everything it applied`;
    case 'crash': return `${n} crashes${e.text ? ': ' + e.text : ''}`;
    case 'restart': return `${n} restarts from what it saved`;
    case 'timeout': return `${n}'s election timer is made to run out`;
    case 'partition': return e.groups && e.groups.length > 1 ? `the network splits: ${e.groups.map(g => g.map(name).join(' ')).join(' | ')}` : 'the network heals';
    case 'network': return `the network's ${e.knob} becomes ${e.value}`;
    case 'violation': return `⚠ ${e.rule} broken on ${n}: ${e.text}`;
    case 'note': return `${n}: ${e.text}`;
  }
  return `${e.kind} on ${n}`;
}

// escapeHTML makes text safe to put into HTML.
export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));
}

function entry(e) { return `${e.index}/${e.term} ${cmd(e)}`; }

export function cmd(e) {
  if (e.cmd !== undefined) return e.cmd;
  return e.cmd64 !== undefined ? '(binary)' : '';
}

// snapshotText names a server's snapshot, as its log row shows it.
export function snapshotText(n) {
  return `snapshot ≤ ${n.snapshotIndex}, term ${n.snapshotTerm}`;
}
