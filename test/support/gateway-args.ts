/**
 * `medgate gateway` arguments of a test or bench child: the data directory, MQTT and HTTP on
 * ephemeral ports, no WebSocket listener. The child prints its ports on its `listening` line.
 */
export function ephemeralGatewayArgs(dir: string): string[] {
  return ['gateway', '--data', dir, '--mqtt-port', '0', '--ws-port', 'off', '--http-port', '0'];
}
