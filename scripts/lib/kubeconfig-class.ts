// client-node's KubeConfig alone, imported statically so that the bundler keeps
// only what it needs; clusters.ts loads this module lazily.
export { KubeConfig } from "@kubernetes/client-node";
