// The names that tie the system together, written once. Manifests cannot import
// this file, so test/unit/manifests.test.ts checks that they agree with it. The
// relay instances are not here: they are read from the manifests (instances.ts).

export const tenant = {
  /** The Cozystack Kubernetes app. */
  app: "cluster-docs-infra-prod",
  /** The Helm release of that app; KubeVirt CCM's cluster-name label. */
  release: "kubernetes-cluster-docs-infra-prod",
  /** Where Cozystack keeps the tenant's admin kubeconfig in the management cluster. */
  kubeconfigSecret: { namespace: "tenant-root", name: "kubernetes-cluster-docs-infra-prod-admin-kubeconfig" },
  kubeconfigKey: "super-admin.conf",
  /** Flux objects of apps/docs-prod live here (Cozystack's own tenant Flux uses cozy-fluxcd). */
  fluxNamespace: "flux-system",
  gitRepository: "setup",
  kustomization: "docs-prod",
  appPath: "apps/docs-prod",
  kubeconfigTemplate: "apps/docs-prod/kubeconfig.yaml.op.tpl",
} as const;

export const management = {
  cluster: "enigma-cluster",
  /** Namespace of the tenant's mirrored Services, the Ingresses and the kubeconfig Secret. */
  tenantNamespace: "tenant-root",
  fluxNamespace: "flux-system",
  gitRepository: "docs-infra-prod",
  kustomization: "docs-infra-prod",
  appPath: "apps/docs-infra-prod",
  ingressFile: "apps/docs-infra-prod/ingress-relay.yaml",
} as const;

/** The app folders Flux reconciles, and the cluster each goes to (bootstrap's --app). */
export const apps = {
  "docs-prod": {
    name: "docs-prod",
    path: tenant.appPath,
    kustomization: tenant.kustomization,
    cluster: tenant.app,
    isTenant: true,
  },
  "docs-infra-prod": {
    name: "docs-infra-prod",
    path: management.appPath,
    kustomization: management.kustomization,
    cluster: management.cluster,
    isTenant: false,
  },
} as const;

export type AppName = keyof typeof apps;
export type App = (typeof apps)[AppName];

export function appByName(name: string): App | undefined {
  return Object.hasOwn(apps, name) ? apps[name as AppName] : undefined;
}

export const git = { url: "https://github.com/vgijssel/setup", branch: "main" } as const;

export const s3 = { endpoint: "https://s3.enigma.vgijssel.nl", region: "us-east-1", pathStyle: true } as const;

export const onePassword = {
  vault: "setup-docs-prod",
  namespace: "1password",
  credentialsReference: "op://setup-docs-prod/setup-docs-prod Credentials File/1password-credentials.json",
  tokenReference: "op://setup-docs-prod/r6ufzahoerausmijqrh6prg3ja/credential",
  credentialsSecret: { name: "1password-credentials", key: "1password-credentials.json" },
  tokenSecret: { name: "1password-operator-token", key: "token" },
  chart: { name: "connect", version: "2.0.5", repository: "https://1password.github.io/connect-helm-charts" },
} as const;

export const relayNamespace = "relay";
export const relayChartPath = "libs/relay-server";

/**
 * A relay instance: a HelmRelease of libs/relay-server in apps/docs-prod and its
 * values file. The instances are read from those manifests (instances.ts); only
 * the conventions are written here.
 */
export interface RelayInstance {
  /** What --instance takes: the release without its `relay-` prefix. */
  name: string;
  /** HelmRelease name and Helm release name. */
  release: string;
  host: string;
  url: string;
  /** storage.s3.bucket; "" with the filesystem store. */
  bucket: string;
  /** OnePasswordItem and Secret holding accessKey / secretKey (storage.s3.existingSecret; "" when none). */
  credentialsSecret: string;
  itemPath: string;
  /** Values file, relative to the repository root. */
  valuesFile: string;
}

/** The convention that names an instance for --instance: relay-personal is personal. */
export function instanceName(release: string): string {
  return release.replace(/^relay-/, "");
}

/** The folder under a vendir folder that holds the vendored charts vendir:remove-entry manages. */
export const chartsDir = "charts";

/** An entry name safe to use as a folder name under charts/ (remove-entry deletes that folder). */
export function isValidEntryName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && name !== "..";
}

/** The S3 credentials keys our 1Password items hold. */
export const s3CredentialKeys = { accessKeyId: "accessKey", secretAccessKey: "secretKey" } as const;

/** KubeVirt CCM's labels on a mirrored Service. */
export const ccmLabels = {
  serviceName: "cluster.x-k8s.io/tenant-service-name",
  serviceNamespace: "cluster.x-k8s.io/tenant-service-namespace",
  clusterName: "cluster.x-k8s.io/cluster-name",
} as const;
