// bootstrap's steps, loaded once its command line is parsed (scripts/flows/bootstrap.ts).
import { applyAll, refOf, summary } from "../../lib/apply.ts";
import { buildApp, readPatches, sourcePatches, withPatchesKept } from "../../lib/apps.ts";
import { type CommonOptions, newSteps } from "../../lib/cli.ts";
import type { SecretRefs } from "../../lib/connect-secrets.ts";
import { OperatorError } from "../../lib/errors.ts";
import { forceWaves, preflight, requestReconcile, waitApplied, waitForceHandled, waitReady } from "../../lib/flux.ts";
import { recordApplied } from "../../lib/interrupt.ts";
import type { App } from "../../lib/names.ts";
import { lazySecretSource, type SecretSourceOptions } from "../../lib/onepassword.ts";
import { readManagement, readTenant, writeConnectSecrets } from "../../lib/steps.ts";

/** What bootstrap does, as its command line asked. */
export interface BootstrapOptions {
  app: App;
  cluster: CommonOptions;
  secrets: SecretSourceOptions;
  /** The Connect Secrets written first (docs-prod, unless --skip-secrets). */
  connectSecrets?: SecretRefs;
  /** Where the GitRepository points instead of the file's URL and branch (--git-url, --branch). */
  source: { url?: string; branch?: string };
  /** --patches: a YAML list of kustomize patches, applied and kept in the root Kustomization. */
  patchesFile?: string;
  /** How long to wait for the root Kustomization to be Ready; undefined with --no-wait. */
  waitMs?: number;
  /** --force: have helm-controller run every HelmRelease's install or upgrade again (flux reconcile helmrelease --force). */
  force: boolean;
  json: boolean;
}

export async function run(opts: BootstrapOptions): Promise<void> {
  const { app, cluster } = opts;
  const steps = newSteps({ silent: opts.json });
  const secrets = lazySecretSource(opts.secrets);
  // docs-prod goes to the tenant (which the Connect Secrets go to too), docs-infra-prod to the management cluster.
  const client = app.isTenant ? await readTenant(steps, cluster, secrets) : await readManagement(steps, cluster);

  const objects = await steps.run(`Build ${app.path} with kubectl kustomize`, async (task) => {
    const plain = await buildApp(app.path);
    const fromSource = sourcePatches(plain, opts.source);
    const patches = [...fromSource, ...(opts.patchesFile ? readPatches(opts.patchesFile) : [])];
    const built = withPatchesKept(
      patches.length ? await buildApp(app.path, patches) : plain,
      app.kustomization,
      patches,
    );
    const { url, branch } = opts.source;
    if (url || branch) task.say(`GitRepository at ${[url, branch && `branch ${branch}`].filter(Boolean).join(", ")}`);
    if (opts.patchesFile) task.say(`${patches.length - fromSource.length} patch(es) from ${opts.patchesFile}`);
    task.title = `Build ${app.path} with kubectl kustomize: ${built.length} objects${patches.length ? `, ${patches.length} patch(es) kept in Kustomization ${app.kustomization}` : ""}`;
    return built;
  });

  await steps.run(`Check that ${app.cluster} is reachable and serves Flux's CRDs`, async (task) => {
    for (const line of await preflight(client, objects)) task.say(line);
  });

  if (opts.connectSecrets) await writeConnectSecrets(steps, client, opts.connectSecrets, secrets, cluster.dryRun);

  const applied = await steps.run(`Apply the objects to ${app.cluster}`, async (task) => {
    const results = await applyAll(client, objects, { dryRun: cluster.dryRun }, (a) =>
      task.say(`${a.ref} ${a.action}${a.note ? ` (${a.note})` : ""}`),
    );
    task.title = `Apply ${results.length} objects to ${app.cluster}: ${summary(results, cluster.dryRun)}`;
    return results;
  });

  // After a fixed failure, helm-controller can keep a HelmRelease's old Ready=False (fluxcd/helm-controller#1362) until forced.
  const releases = objects.filter((o) => o.kind === "HelmRelease");
  const forcedAt = opts.force && !cluster.dryRun ? new Date().toISOString() : undefined;
  if (opts.force && cluster.dryRun)
    await steps.skip(`Ask helm-controller to run ${releases.length} HelmRelease(s) again`, "dry run");

  const waitTitle = `Wait for Kustomization ${app.kustomization} to be Ready`;
  const waitMs = opts.waitMs;
  const waited =
    cluster.dryRun || waitMs === undefined
      ? await steps
          .skip(waitTitle, cluster.dryRun ? "dry run" : "--no-wait")
          .then(() => ({ status: "not waited" as const, reconcileRequested: [] as string[] }))
      : await steps.run(waitTitle, async (task) => {
          const root = objects.find((o) => o.kind === "Kustomization" && o.metadata.name === app.kustomization);
          if (!root)
            throw new OperatorError(
              `expected Kustomization ${app.kustomization} in ${app.path}; it is not there; restore ${app.path}/kustomization-root.yaml`,
            );
          // As `flux reconcile kustomization --with-source`: fetch the source (a commit pushed since) and apply now, not
          // at the next interval. The request is a write to both objects, so the step says so: the apply's counts are the apply's.
          const at = new Date().toISOString();
          const reconcileRequested: string[] = [];
          for (const obj of objects.filter((o) => o.kind === "GitRepository" || o === root)) {
            await requestReconcile(client, obj, at);
            reconcileRequested.push(refOf(obj));
            recordApplied(`${refOf(obj)} reconcile requested`);
          }
          task.say(
            `asked Flux to reconcile ${reconcileRequested.join(" and ")} now: wrote the annotation reconcile.fluxcd.io/requestedAt=${at} on each`,
          );
          const deadline = Date.now() + waitMs;
          if (forcedAt) {
            // The force once kustomize-controller has applied this spec: before it, helm-controller would run the old values.
            const live = (await client.get(root)) as { metadata: { generation?: number } } | undefined;
            await waitApplied(client, root, live?.metadata.generation ?? 1, deadline, (line) => task.say(line));
            // Each release once those it dependsOn have handled theirs: helm-controller drops a force that waits on a dependency.
            for (const wave of forceWaves(releases)) {
              for (const hr of wave) {
                await requestReconcile(client, hr, forcedAt, true);
                recordApplied(`${refOf(hr)} forced reconcile requested`);
              }
              task.say(
                `wrote reconcile.fluxcd.io/requestedAt and forceAt=${forcedAt} on ${wave.map((r) => r.metadata.name).join(", ")} (what flux reconcile helmrelease --force writes)`,
              );
              await waitForceHandled(client, wave, forcedAt, deadline, (line) => task.say(line));
            }
            reconcileRequested.push(...releases.map(refOf));
          }
          await waitReady(client, root, waitMs, (line) => task.say(line), releases, deadline);
          return { status: "ready" as const, reconcileRequested };
        });

  if (opts.json) {
    const report = {
      ok: true,
      app: app.name,
      cluster: app.cluster,
      dryRun: cluster.dryRun,
      summary: summary(applied, cluster.dryRun),
      objects: applied,
      kustomization: { name: app.kustomization, status: waited.status, reconcileRequested: waited.reconcileRequested },
    };
    console.log(JSON.stringify(report, null, 2));
  }
}
