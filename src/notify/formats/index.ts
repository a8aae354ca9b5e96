import type { FormatName } from '../targets.ts';
import { renderAlertmanager } from './alertmanager.ts';
import { renderCloudEvent } from './cloudevents.ts';
import type { Formatter } from './format.ts';
import { renderJson } from './json.ts';
import { renderPagerDuty } from './pagerduty.ts';
import { renderSlack } from './slack.ts';

export type { Rendered } from './format.ts';

export const FORMATTERS: Record<FormatName, Formatter> = {
  json: renderJson,
  cloudevents: renderCloudEvent,
  slack: renderSlack,
  alertmanager: renderAlertmanager,
  pagerduty: renderPagerDuty,
};
