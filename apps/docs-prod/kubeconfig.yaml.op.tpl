{{ op://setup-docs-prod/kubeconfig.yaml/kubeconfig.yaml }}
