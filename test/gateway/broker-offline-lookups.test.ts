/**
 * gateway/broker/mq.ts `skipIngressOfflineLookups`: device ingress never reaches the offline
 * subscription match (nobody may subscribe to it); every other topic still does.
 */
import { describe, expect, it } from 'vitest';
import { isIngressTopic } from '../../gateway/broker/acl.js';
import { skipIngressOfflineLookups } from '../../gateway/broker/mq.js';

describe('skipIngressOfflineLookups', () => {
  it('answers empty for ingress without matching, and passes other topics through', async () => {
    const asked: string[] = [];
    const persistence = {
      async subscriptionsByTopic(topic: string): Promise<unknown[]> {
        asked.push(topic);
        return [{ clientId: 'clinician:dr-lee', topic, qos: 1 }];
      },
    };
    skipIngressOfflineLookups(persistence, isIngressTopic);
    for (const ingress of ['mg/v1/dev/d1/telemetry', 'mg/v1/dev/d1/update/status', 'mg/v1/dev/d1/fw/get']) {
      expect(await persistence.subscriptionsByTopic(ingress)).toEqual([]);
    }
    expect(asked).toEqual([]);
    for (const routed of ['mg/v1/verified/d1', 'mg/v1/dev/d1/events', 'mg/v1/security']) {
      expect(await persistence.subscriptionsByTopic(routed)).toHaveLength(1);
    }
    expect(asked).toEqual(['mg/v1/verified/d1', 'mg/v1/dev/d1/events', 'mg/v1/security']);
  });
});
