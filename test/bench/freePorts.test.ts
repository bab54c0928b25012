import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../bench/shared/gatewayProcess.js';

describe('freePorts', () => {
  it('gives distinct ports a gateway can listen on (PORT and METRICS_PORT must differ)', async () => {
    for (let i = 0; i < 50; i += 1) {
      const ports = await freePorts(3);
      expect(new Set(ports).size).toBe(3);
      // Released: each can be listened on again.
      for (const port of ports) {
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', resolve);
        });
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});
