// Package deploy holds no code: its tests render the Helm chart
// (helm/artifactapi) and the Kustomize overlays (k8s/overlays/dev and prod)
// and check every object as a cluster enforcing the "restricted" Pod
// Security profile, and the operator running it, would.
package deploy
