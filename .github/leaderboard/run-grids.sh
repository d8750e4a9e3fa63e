#!/usr/bin/env bash
# The published grids, on the CPU with the quick profile: one folder per grid under $1.
# leaderboards/README.md lists the same commands; keep the two in step.
set -euo pipefail
out="${1:?usage: run-grids.sh OUT_DIR}"
common=(--device cpu --profile quick)

wsbench run "${common[@]}" --out "$out/default"
wsbench run "${common[@]}" --preset tumour-cpu --labeler box-fill,cam,acol,oracle \
    --segmenter unet --dataset synthetic --seeds 0,1,2 --out "$out/acol-tumor"
# the README's front-page example: Fan et al. 2022's protocol on the phantom in the LiTS layout
wsbench data synth "$out/phantom-lits" --set synthetic.n_patients=64
wsbench run "${common[@]}" --preset tumour --labeler box-fill,acol,oracle --segmenter unet \
    --dataset lits --data-dir "$out/phantom-lits" --out "$out/lits-tumour"
wsbench run "${common[@]}" --dataset synthetic --labeler partial,smile,smiler \
    --segmenter deeplabv3 --weak partial --sweep weak.alpha=0,0.3,0.5,0.7,0.9 --seeds 0,1,2 \
    --set train.epochs=4 --out "$out/smile-alpha"
wsbench run "${common[@]}" --dataset synthetic --target liver --labeler oracle,box-fill \
    --segmenter reipatch,unet,deeplabv3 --set reipatch.plane=fused --set synthetic.n_patients=8 \
    --set synthetic.size=48 --set synthetic.n_slices=10 --set synthetic.val_fraction=0.2 \
    --set reipatch.image_size=48 --seeds 0 --out "$out/reipatch"
wsbench run "${common[@]}" --dataset synthetic --weak tags --target tumor \
    --labeler gradcam,gradcampp,irn,oracle --segmenter unet --set synthetic.size=64 \
    --seeds 0,1,2 --out "$out/wsmis"
wsbench run "${common[@]}" --dataset synthetic --target tumor --weak recist \
    --set weak.slices=target --set synthetic.evaluate=lesions --labeler grabcut,oracle \
    --segmenter coseg,fcn32 --seeds 0,1,2 --out "$out/coseg"
