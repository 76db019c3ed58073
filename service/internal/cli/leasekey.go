package cli

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// cmdLeaseKey prints the public key that signs licence leases, read from
// the service's own database, for the client's lease_key (the MSI's
// LEASEKEY, the ADMX's "Lease signing key"). Read on the service host, it
// needs no trust in the network, unlike GET /v1/lease-key. It never
// migrates: pointed at an empty or wrong data directory it fails instead
// of creating a database with a fresh key, which no lease would match.
func cmdLeaseKey(ctx context.Context, args []string, opts Options) error {
	fs, c := newFlags("lease-key", opts)
	asJSON := fs.Bool("json", false, "print {alg, kid, publicKey} as JSON instead of the bare key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, _, err := c.open(ctx, c.logger(opts.Stderr), false)
	if err != nil {
		return fmt.Errorf("%w (give the data directory or database the service runs with; lease-key never creates one)", err)
	}
	defer st.Close()
	pub := st.Secrets().LeaseKey().Public().(ed25519.PublicKey)
	k := apitype.LeaseKey{Alg: "Ed25519", KeyID: lease.KeyID(pub), PublicKey: lease.EncodePublicKey(pub)}
	if *asJSON {
		return writeJSON(opts.Stdout, k)
	}
	_, err = fmt.Fprintln(opts.Stdout, k.PublicKey)
	return err
}
