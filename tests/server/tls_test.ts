/** TLS: servers, clients, mutual TLS, the broker and the sync client, over real sockets. */
import assert from "node:assert/strict";
import { runtime, test } from "../test_platform.deno.ts";
import { AsyncRPC, Broker, callContext, RpcUnavailableException, type Server } from "../../mod.ts";
import {
  type Certificates,
  makeCertificates,
  silentLogger,
  startServer,
  WireClient,
  within,
} from "../helpers.ts";

let made: Promise<Certificates> | undefined;
// Made once for the file: openssl takes a moment.
const certificates = () => made ??= makeCertificates();

const api = (server: Server) => {
  server.registerFunction(function add(a: number, b: number) {
    return a + b;
  });
  server.registerFunction(function whoami() {
    return callContext().certificate?.subject ?? null;
  });
};

test("tls: a TLS server serves tls:// clients that trust its CA; the name is checked", async () => {
  const { ca, server: pem } = await certificates();
  await using server = await startServer({ tls: pem }, api);
  const port = server.addr.port;
  await using rpc = await AsyncRPC.connect(`tls://admin:admin@localhost:${port}`, { tls: { ca } });
  assert.equal(await rpc.add(1, 2), 3);
  assert.equal(await rpc.whoami(), null, "no client certificate asked for");
  await using byIp = await AsyncRPC.connect(`tls://admin:admin@127.0.0.1:${port}`, { tls: { ca } });
  assert.equal(await byIp.add(2, 2), 4);
});

test("tls: big answers on two connections at once each arrive whole (write buffers lent and given back)", async () => {
  const { ca, server: pem } = await certificates();
  await using server = await startServer({ tls: pem }, (s) => {
    s.registerFunction(function echo(x: Uint8Array) {
      return x;
    });
  });
  const url = `tls://admin:admin@localhost:${server.addr.port}`;
  await using one = await AsyncRPC.connect(url, { tls: { ca } });
  await using two = await AsyncRPC.connect(url, { tls: { ca } });
  const sizes = [70_000, 1_000_000, 300_000, 65_536];
  await Promise.all([one, two].flatMap((rpc, c) =>
    sizes.map(async (size, i) => {
      const fill = 1 + c * sizes.length + i;
      const back = await rpc.echo(new Uint8Array(size).fill(fill)) as Uint8Array;
      assert.equal(back.length, size);
      assert.ok(back.every((byte) => byte === fill), `answer ${c}/${i} came back whole`);
    })
  ));
});

test("tls: clear errors for an unknown CA, a wrong host name, an expired certificate, a plaintext server", async () => {
  const { ca, server: pem, expired, wrongHost } = await certificates();
  const fails = async (options: object, url: string, pattern: RegExp) =>
    await assert.rejects(AsyncRPC.connect(url, { connectTimeout: 5, ...options }), (err) => {
      assert.ok(err instanceof RpcUnavailableException);
      assert.match(err.message, pattern);
      return true;
    });
  {
    await using server = await startServer({ tls: pem }, api);
    await fails({}, `tls://admin:admin@localhost:${server.addr.port}`, /unknown CA|self-signed/);
  }
  {
    await using server = await startServer({ tls: wrongHost }, api);
    const url = `tls://admin:admin@localhost:${server.addr.port}`;
    await fails({ tls: { ca } }, url, /not for this host name/);
  }
  {
    await using server = await startServer({ tls: expired }, api);
    const url = `tls://admin:admin@localhost:${server.addr.port}`;
    await fails({ tls: { ca } }, url, /expired/);
  }
  {
    await using plain = await startServer({ handshakeTimeout: 1 }, api);
    const url = `tls://admin:admin@localhost:${plain.addr.port}`;
    await fails({ tls: { ca } }, url, /TLS: .*plaintext server/);
  }
});

test("tls: a plaintext client gets no service from a TLS server and does not disturb it", async () => {
  const { ca, server: pem } = await certificates();
  await using server = await startServer({ tls: pem }, api);
  await using rpc = await AsyncRPC.connect(`tls://admin:admin@localhost:${server.addr.port}`, {
    tls: { ca },
  });
  const plain = await WireClient.open(server.addr.port);
  const reply = plain.login().catch(() => undefined); // the server drops it during the handshake
  assert.equal(await reply, undefined);
  plain.close();
  await assert.rejects(
    AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`, { connectTimeout: 2 }),
    RpcUnavailableException,
  );
  assert.equal(await rpc.add(3, 4), 7, "the TLS client goes on");
});

test("tls: with tls.ca a server requires a client certificate signed by it, and the handler sees its subject", async () => {
  const { ca, server: pem, client, stranger } = await certificates();
  await using server = await startServer({ tls: { ...pem, ca } }, api);
  const url = `tls://admin:admin@localhost:${server.addr.port}`;
  await using rpc = await AsyncRPC.connect(url, { tls: { ca, ...client } });
  assert.deepEqual(await rpc.whoami(), { CN: "alice", O: "mprpc tests" });
  for (const tls of [{ ca }, { ca, ...stranger }]) {
    await assert.rejects(
      AsyncRPC.connect(url, { tls, connectTimeout: 5, reconnect: false }).then((rpc) =>
        rpc.add(1, 1).finally(() => rpc.close())
      ),
      RpcUnavailableException,
    );
  }
});

test("tls: a TLS broker, TLS members: broker+tls:// clients are sent to tls:// servers", async () => {
  const { ca, server: pem } = await certificates();
  await using broker = new Broker({ port: 0, secret: "s", tls: pem, logger: silentLogger });
  await broker.listen();
  const brokerUrl = `tls://localhost:${broker.addr.port}`;
  await using server = await startServer({
    tls: pem,
    broker: { url: brokerUrl, secret: "s", tls: { ca } },
  }, api);
  assert.equal(await within(server.joined(), 10_000, "no join"), true);
  assert.deepEqual(broker.members.map((m) => m.url), [`tls://127.0.0.1:${server.addr.port}`]);
  await using rpc = await AsyncRPC.connect(
    `broker+tls://admin:admin@localhost:${broker.addr.port}`,
    {
      tls: { ca },
    },
  );
  assert.equal(await rpc.add(20, 22), 42);
});

test("tls: options are checked", async () => {
  const { server: pem } = await certificates();
  await assert.rejects(
    startServer({ tls: { cert: "nope", key: pem.key } }),
    /tls.cert must be PEM/,
  );
  await assert.rejects(
    startServer({ tls: { ...pem, pass: "x" } as never }),
    /unknown TlsServerOptions option 'pass'/,
  );
});

test("tls: reusePort lets two TLS servers share a port, the kernel spreading connections over both", async () => {
  const { ca, server: pem } = await certificates();
  // Node gained reusePort in 22.12; older versions would ignore it, so mprpc refuses it there.
  if (/^Node v(1\d|20|21|22\.(\d|1[01])\.)/.test(runtime().name)) {
    await assert.rejects(startServer({ tls: pem, reusePort: true }), /needs Node 22.12/);
    return;
  }
  const whoami = (id: string) => (server: Server) =>
    server.registerFunction(function whoami() {
      return id;
    });
  await using a = await startServer({ tls: pem, reusePort: true }, whoami("a"));
  await using _b = await startServer(
    { tls: pem, reusePort: true, port: a.addr.port },
    whoami("b"),
  );
  const url = `tls://admin:admin@localhost:${a.addr.port}`;
  const clients = await Promise.all(
    Array.from({ length: 32 }, () => AsyncRPC.connect(url, { tls: { ca }, reconnect: false })),
  );
  try {
    const ids = new Set(await Promise.all(clients.map((rpc) => rpc.whoami())));
    assert.deepEqual([...ids].sort(), ["a", "b"]);
  } finally {
    await Promise.all(clients.map((rpc) => rpc.close()));
  }
});
