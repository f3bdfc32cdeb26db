// The names that tie the system together, written once. Manifests cannot import
// this file, so test/unit/manifests.test.ts checks that they agree with it.

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
  "docs-prod": { name: "docs-prod", path: tenant.appPath, kustomization: tenant.kustomization, cluster: tenant.app, isTenant: true },
  "docs-infra-prod": { name: "docs-infra-prod", path: management.appPath, kustomization: management.kustomization, cluster: management.cluster, isTenant: false },
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

export type InstanceName = "personal" | "family";

export interface RelayInstance {
  name: InstanceName;
  /** HelmRelease name and Helm release name. */
  release: string;
  host: string;
  url: string;
  bucket: string;
  /** OnePasswordItem and Secret holding accessKey / secretKey. */
  credentialsSecret: string;
  itemPath: string;
  /** Values file, relative to the repository root. */
  valuesFile: string;
}

function instance(name: InstanceName, bucket: string): RelayInstance {
  const release = `relay-${name}`;
  const host = `${name}.relay.enigma.vgijssel.nl`;
  const credentialsSecret = `${release}-s3-credentials`;
  return {
    name,
    release,
    host,
    url: `https://${host}`,
    bucket,
    credentialsSecret,
    itemPath: `vaults/${onePassword.vault}/items/${credentialsSecret}`,
    valuesFile: `apps/docs-prod/${release}/values.yaml`,
  };
}

export const instances: readonly RelayInstance[] = [
  instance("personal", "bucket-ea312e3e-9f61-4550-8a4a-f0d13222e4a9"),
  instance("family", "bucket-7f79c3ba-4dd7-42f1-9844-1e17302da678"),
];

export function instanceByName(name: string): RelayInstance {
  const found = instances.find((i) => i.name === name);
  if (!found) {
    throw new Error(`expected an instance name (${instances.map((i) => i.name).join(" or ")}); got "${name}"; pass --instance ${instances[0]!.name}`);
  }
  return found;
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
