// The local platform's front door: tests and programs import the platform only
// from here (test/unit/architecture.test.ts holds them to it). Map of what starts
// what, and what is real and what is played: docs/architecture.md, "The local platform".

// Builders: programs of ours and images, built once into .cache/ and reused.
export { allCrds, crdSources, type CrdName, type CrdObject, fluxCrds, readCrd } from "./build/crds.ts";
export { ensureFluxBinary, type FluxController, fluxControllers } from "./build/flux-binaries.ts";
export { ensureGoTool, goToolBinary, type GoToolName, goTools, goToolVersion } from "./build/go-tools.ts";
export { ensureOperatorBinary, operatorBinary } from "./build/onepassword-operator.ts";
export { gvkOf, schemaLocation, writeSchemas } from "./build/kube-schemas.ts";
export { nodeImages } from "./build/images.ts";
export { ensureRelayServer, relaySourceTarball } from "./build/relay-server.ts";
export { ensureKubeBinary, kubeBinary } from "./build/kube-binary.ts";

// Running components: real programs, started on this machine.
export {
  type ApiServer,
  type ApiServers,
  type AuditEvent,
  client,
  freePorts,
  type ServerOptions,
  startApiServers,
} from "./components/api-server.ts";
export { type FluxRun, startFlux } from "./components/flux.ts";
export { type GitServer, startGitServer } from "./components/git-server.ts";
export {
  detectNodeMode,
  type LocalNode,
  type LocalS3,
  type NodeComponent,
  nodeComponents,
  nodeName,
  nodeProcesses,
  type NodeState,
} from "./components/node/index.ts";
export { type NodeCluster, startNodeCluster } from "./components/node-cluster.ts";
export { type OnePassword, startOnePassword } from "./components/onepassword/operator.ts";
export { itemTitle, newReadyPod, readyRelayPod, rotateItem } from "./components/onepassword/rotation.ts";
export {
  localAuthSecret,
  localNofile,
  localPatches,
  localPollingSeconds,
  type LocalSystem,
  relayRoutes,
  startSystem,
} from "./components/system.ts";

// Stand-ins: what no machine here can have, played in code and named so in the output.
export { deleteService, installRelayServices, mirrorManifest, playCcm, playedLoadBalancerIp } from "./played/ccm.ts";
export { changeItem, type LocalConnect, readSource, servedRoutes, startLocalConnect } from "./played/connect.ts";
export { seedCozystack } from "./played/cozystack.ts";
export { setFluxReady } from "./played/flux-status.ts";
export { s3EndpointHosts, startIngress } from "./played/ingress-controller.ts";
