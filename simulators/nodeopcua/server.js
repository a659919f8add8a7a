// A node-opcua server for interoperability tests of the agent's OPC UA source.
//
//   node server.js --port 4841 --pki DIR [--trust CERT]... [--max-items-per-call N]
//                  [--max-nodes-per-read N] [--hide-limits] [--clock-offset SECONDS]
//                  [--max-monitored-items N] [--first-sequence N]
// --first-sequence numbers each subscription's notification messages from N rather than 1
// (node-opcua wraps them after 4294966271 to 1, as secure channels number chunks).
//
// --clock-offset sets the server's clock (ServerStatus.CurrentTime) that far ahead of the machine's
// (behind when negative), as a server whose time is not set.
//
// Address space, in namespace "urn:floorpulse:nodeopcua" (index 1):
//   Objects/1:Line1/1:M01/1:Run       ns=1;s=Line1.M01.Run       Boolean
//   Objects/1:Line1/1:M01/1:Count     ns=1;s=Line1.M01.Count     Int32
//   Objects/1:Line1/1:M01/1:Power     ns=1;s=Line1.M01.Power     Double, EURange 0..100
//   Objects/1:Line1/1:M01/1:Operator  ns=1;s=Line1.M01.Operator  String
//   Objects/1:Line1/1:M01/1:Temp      ns=1;s=Line1.M01.Temp      Double, UncertainLastUsableValue
//   Objects/1:Line1/1:M01/1:Vibration ns=1;s=Line1.M01.Vibration Double, BadSensorFailure with a value
//   Objects/1:Line1/1:M01/1:Alarm     ns=1;s=Line1.M01.Alarm     String, BadNotConnected without a value
// Run, Count, Power and Operator are historized (in memory): HistoryRead of raw values gives every
// value they took since the server started.
//
// Endpoints: None, Basic256Sha256, Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss with Sign and
// SignAndEncrypt. Users: anonymous, "operator" / "op-secret" and "viewer" / "view-secret".
// Client certificates are rejected unless trusted: each --trust file (DER or PEM) is copied to
// the PKI's trusted folder before the server starts.
//
// Standard input takes one JSON command per line:
//   {"set": "Line1.M01.Power", "type": "Double", "value": 12.5, "status": "Good",
//    "source_time": "2026-10-01T06:00:00.123Z"}
// (status a StatusCodes name or a number; value null for none);
//   {"drop_subscriptions": true} deletes every subscription while the sessions stay;
//   {"stall_publishing": true} takes publish requests and answers none (false answers them again),
//   as a server whose publishing hung, while reads and the subscriptions stay;
//   {"count": "Line1.M01.Temp", "to": 300, "every_ms": 5} sets the variable to 1, 2, ... 300, one
//   every 5 ms, each stamped with the time it is set, then prints "counted <variable> to <n>".
// Each gets "cmd ok <n>" or
// "cmd error <message>" on standard output. The server prints "ready <port>" once it listens,
// and "session created <n>" each time a client creates a session.
"use strict";

const fs = require("fs");
const path = require("path");
const {
    OPCUAServer,
    OPCUACertificateManager,
    SecurityPolicy,
    MessageSecurityMode,
    Variant,
    DataType,
    StatusCodes,
    StatusCode,
    standardUnits,
} = require("node-opcua");

function parseArgs(argv) {
    const a = { port: 4841, pki: "pki", trust: [], maxItemsPerCall: 0, maxNodesPerRead: 0, hideLimits: false, clockOffset: 0, maxMonitoredItems: 0, firstSequence: 0 };
    for (let i = 0; i < argv.length; i++) {
        const v = argv[i + 1];
        switch (argv[i]) {
            case "--port": a.port = Number(v); i++; break;
            case "--pki": a.pki = v; i++; break;
            case "--trust": a.trust.push(v); i++; break;
            case "--max-items-per-call": a.maxItemsPerCall = Number(v); i++; break;
            case "--max-nodes-per-read": a.maxNodesPerRead = Number(v); i++; break;
            case "--hide-limits": a.hideLimits = true; break;
            case "--max-monitored-items": a.maxMonitoredItems = Number(v); i++; break;
            case "--first-sequence": a.firstSequence = Number(v); i++; break;
            case "--clock-offset": a.clockOffset = Number(v); i++; break;
            default: throw new Error("unknown argument " + argv[i]);
        }
    }
    return a;
}

const users = { operator: "op-secret", viewer: "view-secret" };

function statusOf(s) {
    if (s === undefined || s === null) return StatusCodes.Good;
    if (typeof s === "number") return StatusCode.makeStatusCode(s >>> 0);
    const sc = StatusCodes[s];
    if (!sc) throw new Error("unknown status " + s);
    return sc;
}

function trustCertificates(pki, files) {
    const dir = path.join(pki, "trusted", "certs");
    fs.mkdirSync(dir, { recursive: true });
    for (const f of files) {
        const ext = f.endsWith(".pem") ? ".pem" : ".der";
        fs.copyFileSync(f, path.join(dir, path.basename(f, path.extname(f)) + ext));
    }
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    trustCertificates(args.pki, args.trust);
    const certificateManager = new OPCUACertificateManager({
        rootFolder: args.pki,
        automaticallyAcceptUnknownCertificate: false,
    });
    await certificateManager.initialize();

    // A sample rate of 0: a monitored item with sampling interval 0 reports every change of a
    // variable, as a PLC driver's exception-based items do, rather than the last within 50 ms.
    const serverCapabilities = { minSupportedSampleRate: 0 };
    // The most monitored items the server holds, over all sessions (BadTooManyMonitoredItems beyond).
    if (args.maxMonitoredItems > 0) serverCapabilities.maxMonitoredItems = args.maxMonitoredItems;
    if (args.maxItemsPerCall > 0 || args.maxNodesPerRead > 0) {
        serverCapabilities.operationLimits = {};
        if (args.maxItemsPerCall > 0) serverCapabilities.operationLimits.maxMonitoredItemsPerCall = args.maxItemsPerCall;
        if (args.maxNodesPerRead > 0) serverCapabilities.operationLimits.maxNodesPerRead = args.maxNodesPerRead;
    }
    const server = new OPCUAServer({
        port: args.port,
        hostname: "127.0.0.1",
        host: "127.0.0.1",
        resourcePath: "",
        serverCertificateManager: certificateManager,
        securityPolicies: [
            SecurityPolicy.None,
            SecurityPolicy.Basic256Sha256,
            SecurityPolicy.Aes128_Sha256_RsaOaep,
            SecurityPolicy.Aes256_Sha256_RsaPss,
        ],
        securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
        allowAnonymous: true,
        userManager: { isValidUser: (user, pass) => users[user] !== undefined && users[user] === pass },
        serverCapabilities,
        serverInfo: { applicationUri: "urn:floorpulse:nodeopcua", productUri: "floorpulse-nodeopcua" },
        buildInfo: { productName: "floorpulse node-opcua test server", manufacturerName: "floorpulse" },
    });
    await server.initialize();

    const addressSpace = server.engine.addressSpace;
    const ns = addressSpace.registerNamespace("urn:floorpulse:nodeopcua");
    const line = ns.addFolder(addressSpace.rootFolder.objects, { browseName: "Line1", nodeId: "s=Line1" });
    const m01 = ns.addObject({ organizedBy: line, browseName: "M01", nodeId: "s=Line1.M01" });
    const vars = {};
    const add = (name, dataType, value, status) => {
        const opts = { componentOf: m01, browseName: name, nodeId: "s=Line1.M01." + name, dataType };
        const v = dataType === "Double" && name === "Power"
            ? ns.addAnalogDataItem({ ...opts, engineeringUnitsRange: { low: 0, high: 100 }, engineeringUnits: standardUnits.kilowatt })
            : ns.addVariable(opts);
        const variant = value === null ? new Variant({ dataType: DataType.Null }) : new Variant({ dataType: DataType[dataType], value });
        if (historized.includes(name)) addressSpace.installHistoricalDataNode(v, { maxOnlineValues: 100000 });
        v.setValueFromSource(variant, statusOf(status), new Date());
        vars["Line1.M01." + name] = { node: v, dataType };
    };
    const historized = ["Run", "Count", "Power", "Operator"];
    add("Run", "Boolean", false);
    add("Count", "Int32", 0);
    add("Power", "Double", 0);
    add("Operator", "String", "");
    add("Temp", "Double", 21.5, "UncertainLastUsableValue");
    add("Vibration", "Double", 0.7, "BadSensorFailure");
    add("Alarm", "String", null, "BadNotConnected");

    let sessions = 0;
    server.on("create_session", () => {
        sessions++;
        process.stdout.write("session created " + sessions + "\n");
    });

    // While publishing is stalled, publish requests are taken and dropped
    // unanswered: nothing reaches the subscriptions' clients, and nothing
    // tells them so.
    let stalled = false;
    const onPublish = server._on_PublishRequest;
    server._on_PublishRequest = function (message, channel) {
        if (stalled) return;
        return onPublish.call(this, message, channel);
    };

    if (args.firstSequence > 0) {
        const { ServerSidePublishEngine } = require("node-opcua-server");
        const add = ServerSidePublishEngine.prototype.add_subscription;
        ServerSidePublishEngine.prototype.add_subscription = function (subscription) {
            subscription._sequence_number_generator._set(args.firstSequence);
            return add.call(this, subscription);
        };
    }
    await server.start();
    if (args.hideLimits) {
        // Enforce the limits but state none (0), as some servers do:
        // OperationLimits.MaxMonitoredItemsPerCall and MaxNodesPerRead.
        for (const id of ["ns=0;i=11714", "ns=0;i=11705"]) {
            addressSpace.findNode(id).bindVariable({ get: () => new Variant({ dataType: DataType.UInt32, value: 0 }) }, true);
        }
    }
    if (args.clockOffset !== 0) {
        // ServerStatus's fields read its extension object, a proxy the
        // engine installs so that currentTime is the time of the read.
        const status = addressSpace.findNode("ns=0;i=2256");
        const inner = status.$extensionObject;
        status.$extensionObject = new Proxy(inner, {
            get(target, prop) {
                const v = target[prop];
                return prop === "currentTime" ? new Date(v.getTime() + args.clockOffset * 1000) : v;
            },
        });
    }
    process.stdout.write("ready " + args.port + "\n");

    let commands = 0;
    let pending = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
        pending += chunk;
        let i;
        while ((i = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, i).trim();
            pending = pending.slice(i + 1);
            if (!line) continue;
            try {
                const c = JSON.parse(line);
                if (c.drop_subscriptions) {
                    // Delete every subscription while the sessions stay: the
                    // clients' pending publish requests are answered with
                    // BadNoSubscription, their reads keep working.
                    let dropped = 0;
                    for (const session of Object.values(server.engine._sessions)) {
                        const subs = session.publishEngine ? [...session.publishEngine.subscriptions] : [];
                        for (const sub of subs) {
                            session.deleteSubscription(sub.id);
                            dropped++;
                        }
                    }
                    commands++;
                    process.stdout.write("dropped " + dropped + " subscriptions\n");
                    process.stdout.write("cmd ok " + commands + "\n");
                    continue;
                }
                if (c.count) {
                    // Set the variable to 1, 2, ... c.to, one every c.every_ms,
                    // stamped with the time of the set, then say so.
                    const v = vars[c.count];
                    if (!v) throw new Error("no variable " + c.count);
                    let n = 0;
                    const timer = setInterval(() => {
                        n++;
                        v.node.setValueFromSource(new Variant({ dataType: v.dataType, value: n }), StatusCodes.Good, new Date());
                        if (n >= c.to) {
                            clearInterval(timer);
                            process.stdout.write("counted " + c.count + " to " + c.to + "\n");
                        }
                    }, c.every_ms);
                    commands++;
                    process.stdout.write("cmd ok " + commands + "\n");
                    continue;
                }
                if (c.stall_publishing !== undefined) {
                    stalled = Boolean(c.stall_publishing);
                    commands++;
                    process.stdout.write("cmd ok " + commands + "\n");
                    continue;
                }
                const v = vars[c.set];
                if (!v) throw new Error("no variable " + c.set);
                const type = c.type || v.dataType;
                const variant = c.value === null ? new Variant({ dataType: DataType.Null }) : new Variant({ dataType: DataType[type], value: c.value });
                const at = c.source_time ? new Date(c.source_time) : new Date();
                v.node.setValueFromSource(variant, statusOf(c.status), at);
                commands++;
                process.stdout.write("cmd ok " + commands + "\n");
            } catch (err) {
                process.stdout.write("cmd error " + err.message + "\n");
            }
        }
    });
    const stop = async () => {
        await server.shutdown(0);
        process.exit(0);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

main().catch((err) => {
    process.stderr.write("server failed: " + (err && err.stack ? err.stack : err) + "\n");
    process.exit(1);
});
