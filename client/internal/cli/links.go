package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// linkRequest makes a command-line path absolute: the agent matches it
// against its mountpoints.
func linkRequest(arg string) (apitype.LinkRequest, error) {
	p, err := filepath.Abs(arg)
	if err != nil {
		return apitype.LinkRequest{}, fmt.Errorf("resolve %s: %w", arg, err)
	}
	return apitype.LinkRequest{Path: p}, nil
}

func (a *app) linkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "link <path>",
		Short: "Print a sharing link to a file or folder in a mounted drive",
		Long: "Print a view-only sharing link to a file or folder inside a mounted drive. The link's reach\n" +
			"(people in your organisation, specific people, or anyone) is the one your organisation's\n" +
			"Mapdrive policy sets; Mapdrive never asks Microsoft 365 for a wider one. If the policy allows\n" +
			"no links, use `mapdrive open-web` and share from the browser.",
		Args: argsBetween(1, 1, "the path of a file or folder inside a mounted drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := linkRequest(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.Link(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(l)
			}
			a.printf("%s\n", l.URL)
			return nil
		},
	}
}

func (a *app) openWebCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "open-web <path>",
		Short: "Open a file or folder of a mounted drive in the web browser",
		Long: "Open a file or folder inside a mounted drive in OneDrive or SharePoint on the web, where you\n" +
			"can see its versions, share it and open it in Office for the web.",
		Args: argsBetween(1, 1, "the path of a file or folder inside a mounted drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := linkRequest(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.WebURL(cmd.Context(), req)
			if err != nil {
				return err
			}
			if err := a.env.OpenURL(l.WebURL); err != nil {
				return apitype.NewError("browser_failed", fmt.Sprintf("could not open the web browser: %v", err),
					"Open this address yourself: "+l.WebURL)
			}
			if a.jsonOut {
				return a.printJSON(l)
			}
			a.printf("Opened %s\n", l.WebURL)
			return nil
		},
	}
}
