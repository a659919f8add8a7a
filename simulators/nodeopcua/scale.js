// A node-opcua server with many machines whose variables all change every second, for the
// agent's OPC UA scale benchmark.
//
//   node scale.js --port 4841 --pki DIR [--machines 2000]
//
// Address space, in namespace "urn:floorpulse:nodeopcua-scale" (index 1), for each machine
// M0000 ... (--machines of them, five variables each):
//   Objects/1:Plant/1:M0000/1:Run       ns=1;s=M0000.Run       Boolean
//   Objects/1:Plant/1:M0000/1:State     ns=1;s=M0000.State     Int32 (1 to 4)
//   Objects/1:Plant/1:M0000/1:Count     ns=1;s=M0000.Count     Int32
//   Objects/1:Plant/1:M0000/1:Power     ns=1;s=M0000.Power     Double
//   Objects/1:Plant/1:M0000/1:Operator  ns=1;s=M0000.Operator  String
// Every variable's value is a function of the current second, computed when the variable is
// read or sampled: sampled every second, each variable has a new value at every sample. Endpoint
// None only, anonymous. The server prints "ready <port>" once it listens.
"use strict";

const { OPCUAServer, OPCUACertificateManager, SecurityPolicy, MessageSecurityMode, Variant, DataType, StatusCodes } = require("node-opcua");

function parseArgs(argv) {
    const a = { port: 4841, pki: "pki", machines: 2000 };
    for (let i = 0; i < argv.length; i++) {
        const v = argv[i + 1];
        switch (argv[i]) {
            case "--port": a.port = Number(v); i++; break;
            case "--pki": a.pki = v; i++; break;
            case "--machines": a.machines = Number(v); i++; break;
            default: throw new Error("unknown argument " + argv[i]);
        }
    }
    return a;
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const certificateManager = new OPCUACertificateManager({ rootFolder: args.pki, automaticallyAcceptUnknownCertificate: false });
    await certificateManager.initialize();
    const server = new OPCUAServer({
        port: args.port,
        hostname: "127.0.0.1",
        host: "127.0.0.1",
        resourcePath: "",
        serverCertificateManager: certificateManager,
        securityPolicies: [SecurityPolicy.None],
        securityModes: [MessageSecurityMode.None],
        allowAnonymous: true,
        serverInfo: { applicationUri: "urn:floorpulse:nodeopcua-scale", productUri: "floorpulse-nodeopcua-scale" },
    });
    await server.initialize();

    const addressSpace = server.engine.addressSpace;
    const ns = addressSpace.registerNamespace("urn:floorpulse:nodeopcua-scale");
    const plant = ns.addFolder(addressSpace.rootFolder.objects, { browseName: "Plant", nodeId: "s=Plant" });
    const kinds = [
        ["Run", DataType.Boolean, (n, m) => (n + m) % 2 === 0],
        ["State", DataType.Int32, (n, m) => 1 + ((n + m) % 4)],
        ["Count", DataType.Int32, (n) => n % 1000000],
        ["Power", DataType.Double, (n, m) => 50 + 40 * Math.sin(n / 10 + m)],
        ["Operator", DataType.String, (n, m) => "op" + ((n + m) % 30)],
    ];
    // Each variable's value is a function of the current second, read when the server samples
    // it: every variable changes once a second without the server doing anything in between.
    const second = () => Math.floor(Date.now() / 1000);
    for (let m = 0; m < args.machines; m++) {
        const id = "M" + String(m).padStart(4, "0");
        const obj = ns.addObject({ organizedBy: plant, browseName: id, nodeId: "s=" + id });
        for (const [name, dataType, value] of kinds) {
            const v = ns.addVariable({ componentOf: obj, browseName: name, nodeId: "s=" + id + "." + name, dataType });
            v.bindVariable({ get: () => new Variant({ dataType, value: value(second(), m) }) }, true);
        }
    }
    await server.start();
    process.stdout.write("ready " + args.port + "\n");

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
