package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/models"
)

type modelsOptions struct {
	*globalOptions
	Names []string
	JSON  bool
}

func newModelsCmd(g *globalOptions) *cobra.Command {
	o := &modelsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:     "models [MODEL...]",
		Short:   "List the model families and their default configs",
		Example: "  aigc models\n  aigc models vae --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			return runModels(o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the families and default configs as JSON")
	return cmd
}

func runModels(o *modelsOptions) error {
	names := o.Names
	if len(names) == 0 {
		names = models.Names()
	}
	type entry struct {
		Name    string          `json:"name"`
		Summary string          `json:"summary"`
		Data    string          `json:"data"`
		Config  json.RawMessage `json:"config"`
	}
	var entries []entry
	for i, name := range names {
		fam, err := models.Lookup(name)
		if err != nil {
			return usageError{err}
		}
		cfg := fam.NewConfig()
		if err := configs.Load(cfg, name, "", nil); err != nil {
			return err
		}
		if o.JSON {
			entries = append(entries, entry{fam.Name, fam.Summary, string(fam.Data), configs.JSON(cfg)})
			continue
		}
		def, _ := configs.Default(name)
		if i > 0 {
			fmt.Fprintln(o.Out)
		}
		fmt.Fprintf(o.Out, "%s: %s\n  default config (configs/%s.yaml; change with --config FILE or --set key=value):\n",
			fam.Name, fam.Summary, name)
		for _, line := range strings.Split(strings.TrimRight(string(def), "\n"), "\n") {
			fmt.Fprintf(o.Out, "    %s\n", line)
		}
	}
	if o.JSON {
		return printJSON(o.Out, entries)
	}
	return nil
}
