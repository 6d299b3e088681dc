"""Selection methods (DiverseEvol, IterIT, learning percentage, baselines) behind one `Selector` protocol.

    from curation.methods import registry, runner
    run_id = runner.start_run(ws, "diverse_evol", budget="5%", seed=0)
    runner.run_selection(ws, run_id, progress=..., should_stop=...)   # resumable
"""
