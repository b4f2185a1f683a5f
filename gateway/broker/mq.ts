/**
 * The message emitter aedes routes every publish through (aedes' documented `mq` option),
 * built so that the known aedes 1.2.0 crash cannot happen here (docs/mqtt.md, "QoS 0 floods").
 *
 * The crash: `RangeError: Maximum call stack size exceeded` in mqemitter 7.1.0 when many
 * publishers flood QoS 0 and a subscriber then disconnects. With aedes' default `concurrency`
 * of 100, deliveries that wait on a socket (QoS 0 delivery defers with setImmediate) fill the
 * 100 slots and every further message waits in mqemitter's queue. When a slot frees,
 * `released` takes the next queued message and calls `_do`; a message that matches no
 * listener completes synchronously inside fastparallel, which calls `released` again, which
 * takes the next one: one stack frame chain per queued message. Once the subscriber is gone,
 * the whole backlog matches nothing and drains in one synchronous recursion (thousands deep
 * in the reproduction: test/gateway/broker-flood.test.ts; mcollina/mqemitter#204 describes
 * the same recursion, still open).
 *
 * Two changes, each enough on its own here:
 * 1. `concurrency: 0`: mqemitter never queues, so there is no backlog to recurse through.
 *    Back-pressure stays where MQTT has it: aedes reads a client's next packets only when the
 *    previous batch was handled, a slow subscriber is cut off after `drainTimeout`, and the
 *    gateway's own publishes are paced by the telemetry pipeline.
 * 2. Device ingress (telemetry, update status, firmware requests) never enters the emitter:
 *    the ACL lets nobody receive those topics, the gateway has consumed them in
 *    `authorizePublish` already, and matching them against every subscription would only
 *    cost time on the hottest path.
 */
import mqemitter from 'mqemitter';

export type GatewayEmitter = mqemitter.MQEmitter;

export interface GatewayEmitterOptions {
  /** Topics that are consumed before routing and never delivered to anyone. */
  readonly isIngress: (topic: string) => boolean;
}

export function createGatewayEmitter(options: GatewayEmitterOptions): GatewayEmitter {
  // [MQTT-4.7.1-3] as aedes configures its own default emitter.
  const mq = mqemitter({ concurrency: 0, matchEmptyLevels: true });
  const emit = mq.emit.bind(mq);
  mq.emit = (message, callback) => {
    if (options.isIngress(message.topic)) {
      callback?.();
      return;
    }
    emit(message, callback);
  };
  return mq;
}

/** The one persistence call aedes makes for every publish: the offline subscriptions matching its topic. */
export interface OfflineMatcher {
  subscriptionsByTopic(topic: string): Promise<unknown[]>;
}

/**
 * After routing, aedes looks up the offline sessions subscribed to every publish's topic
 * (`enqueueOffline`): a match against every stored subscription. For device ingress it can
 * find none (nobody may subscribe to those topics, authorize-subscribe.ts), so the lookup
 * answers empty without matching, as the emitter above does for live delivery.
 */
export function skipIngressOfflineLookups(
  persistence: OfflineMatcher,
  isIngress: (topic: string) => boolean,
): void {
  const lookup = persistence.subscriptionsByTopic.bind(persistence);
  persistence.subscriptionsByTopic = (topic) => (isIngress(topic) ? Promise.resolve([]) : lookup(topic));
}
