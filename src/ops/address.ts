/** HOST:PORT parsing shared by every flag that takes an address ("[::1]:2598" for IPv6). */

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort?: number): HostPort {
  // Host names and IPv4 addresses plain, IPv6 in brackets; nothing else (no "=", "/", spaces).
  const bracketed = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\](?::(\d+))?$/.exec(text);
  const plain = /^([\w.-]+)(?::(\d+))?$/.exec(text);
  const m = bracketed ?? plain;
  if (!m || !m[1]) throw new Error(`not HOST:PORT: ${JSON.stringify(text)}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`bad or missing port in ${JSON.stringify(text)}`);
  }
  return { host: m[1], port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
