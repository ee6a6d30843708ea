import type { Node } from 'constructs';
import type { AlarmThresholds } from '../constructs/pipeline-monitoring.ts';
import { contextValue } from './context-value.ts';

/** CDK context keys of the alarms (`cdk deploy -c alarms:email=ops@example.com`). */
export const MONITORING_CONTEXT_KEYS = {
  email: 'alarms:email',
  maxWaitMinutes: 'alarms:maxWaitMinutes',
} as const;

export interface MonitoringSettings {
  /** Subscribed (by email) to the alarm topic; absent, subscribe however you like. */
  alarmEmail?: string;
  thresholds: Partial<AlarmThresholds>;
}

/** Reads the alarm settings from CDK context; a bad value fails `cdk synth` naming its key. */
export function monitoringSettingsFromContext(node: Node): MonitoringSettings {
  const email = contextValue(node, MONITORING_CONTEXT_KEYS.email);
  if (email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    throw new Error(
      `context ${MONITORING_CONTEXT_KEYS.email} must be an email address, got "${email}"`,
    );
  }
  const thresholds: Partial<AlarmThresholds> = {};
  const maxWait = contextValue(node, MONITORING_CONTEXT_KEYS.maxWaitMinutes);
  if (maxWait !== undefined) {
    const minutes = Number(maxWait);
    if (!Number.isInteger(minutes) || minutes < 1) {
      throw new Error(
        `context ${MONITORING_CONTEXT_KEYS.maxWaitMinutes} must be a whole number of minutes >= 1, got "${maxWait}"`,
      );
    }
    thresholds.maxWaitMinutes = minutes;
  }
  return { ...(email === undefined ? {} : { alarmEmail: email }), thresholds };
}
