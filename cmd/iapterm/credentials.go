package main

import (
	"context"

	"iapterm/auth"
	"iapterm/endpoint"
	"iapterm/projects"
)

// credentials resolves the endpoints (--endpoint, IAPTERM_ENDPOINT) and who
// the user is (IAPTERM_ACCESS_TOKEN, iapterm's sign-in, then application
// default credentials). Every command that calls Google uses it.
func credentials(ctx context.Context) (*auth.Credentials, endpoint.Endpoints, error) {
	eps, store, err := endpointAndStore()
	if err != nil {
		return nil, eps, err
	}
	creds, err := auth.Resolve(ctx, eps, store)
	if err != nil {
		return nil, eps, err
	}
	return creds, eps, nil
}

// apiClient is credentials plus a projects client on top.
func apiClient(ctx context.Context) (*projects.Client, *auth.Credentials, error) {
	creds, eps, err := credentials(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := projects.NewClient(ctx, eps, creds.TokenSource)
	if err != nil {
		return nil, nil, err
	}
	return c, creds, nil
}

// endpointAndStore resolves the endpoints and opens iapterm's sign-in
// store (OS keyring, else a 0600 file).
func endpointAndStore() (endpoint.Endpoints, *auth.Store, error) {
	eps, err := endpoint.FromEnv(global.endpoint)
	if err != nil {
		return endpoint.Endpoints{}, nil, err
	}
	store, err := auth.DefaultStore()
	if err != nil {
		return eps, nil, err
	}
	return eps, store, nil
}
