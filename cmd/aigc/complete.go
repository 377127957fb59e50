package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/models"
	"github.com/aigc-go/aigc/train"
)

// Shell completion (aigc completion bash|zsh|fish|powershell) of what aigc's arguments
// name: models, their config keys with their defaults, run directories, checkpoints, data
// sets and devices.

// completeModel completes a command's MODEL argument, each with its summary.
func completeModel(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, name := range models.Names() {
		if f, _ := models.Lookup(name); strings.HasPrefix(name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(name, f.Summary))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSet completes --set with the model's keys ("key=", the default and its comment
// as the description), or, after "key=", the default.
func completeSet(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	docs, err := configs.Documented(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	key, _, typingValue := strings.Cut(toComplete, "=")
	for _, d := range docs {
		switch {
		case typingValue && d.Key == key:
			out = append(out, cobra.CompletionWithDesc(d.Key+"="+d.Default, d.Comment))
		case !typingValue && strings.HasPrefix(d.Key, toComplete):
			desc := "default " + d.Default
			if d.Comment != "" {
				desc += ": " + d.Comment
			}
			out = append(out, cobra.CompletionWithDesc(d.Key+"=", desc))
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// completeRun completes a run directory: those under runs/ (of the model, when known,
// first), or any directory.
func completeRun(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	dirs, _ := filepath.Glob(filepath.Join("runs", "*", train.ConfigFile))
	var out []cobra.Completion
	for _, c := range dirs {
		dir := filepath.Dir(c)
		if strings.HasPrefix(dir, toComplete) {
			out = append(out, cobra.Completion(dir))
		}
	}
	if len(out) == 0 {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	return out, cobra.ShellCompDirectiveNoFileComp // Glob's order: sorted
}

// completeData completes --data: the downloadable sets for an image model (a folder or a
// file otherwise).
func completeData(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		if f, err := models.Lookup(args[0]); err == nil && f.Data == models.Images {
			var out []cobra.Completion
			for _, s := range datasets.KnownSets() {
				if strings.HasPrefix(s, toComplete) {
					out = append(out, cobra.CompletionWithDesc(s, "aigc data download "+s))
				}
			}
			if _, err := os.Stat(toComplete); len(out) > 0 && err != nil {
				return out, cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	return nil, cobra.ShellCompDirectiveDefault
}

func completeDevice(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{
		cobra.CompletionWithDesc("auto", "a GPU if there is one, else the CPU"),
		cobra.CompletionWithDesc("cpu", "the CPU"),
		cobra.CompletionWithDesc("cuda", "the first NVIDIA GPU (aigc-cuda)"),
		cobra.CompletionWithDesc("cuda:0", "GPU number 0 (aigc devices lists them)"),
	}, cobra.ShellCompDirectiveNoFileComp
}

// completions registers the completion of each flag cmd has that names something.
func completions(cmd *cobra.Command) {
	register := func(flag string, f cobra.CompletionFunc) {
		if cmd.Flags().Lookup(flag) != nil {
			cmd.RegisterFlagCompletionFunc(flag, f)
		}
	}
	register("set", completeSet)
	register("run", completeRun)
	register("data", completeData)
	if cmd.Flags().Lookup("checkpoint") != nil {
		cmd.MarkFlagFilename("checkpoint", "safetensors")
	}
	if cmd.Flags().Lookup("config") != nil {
		cmd.MarkFlagFilename("config", "yaml", "yml")
	}
}
