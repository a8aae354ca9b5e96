import type { NotifyEvent } from '../events.ts';
import { describeElection, type Rendered } from './format.ts';

/** Slack's `<`, `>` and `&` are control characters in `text`. */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function slackText(event: NotifyEvent): string {
  const election = `\`${escape(describeElection(event))}\``;
  const { leader, previousLeader, transitions, reason } = event.data;
  switch (event.type) {
    case 'leadership.started':
      return `:crown: *${escape(event.subject)}* became leader of ${election} (transition ${transitions})`;
    case 'leadership.stopped':
      return `:wave: *${escape(event.subject)}* stopped leading ${election}${reason ? ` (${escape(reason)})` : ''}`;
    case 'leader.changed':
      return leader
        ? `:white_check_mark: ${election} is led by *${escape(leader)}*${previousLeader ? ` (was ${escape(previousLeader)})` : ''}`
        : `:warning: ${election} has no leader${previousLeader ? ` (was ${escape(previousLeader)})` : ''}`;
  }
}

/** A Slack incoming webhook: `{"text": …}`. */
export function renderSlack(event: NotifyEvent): Rendered {
  return { body: JSON.stringify({ text: slackText(event) }), headers: { 'content-type': 'application/json' } };
}
