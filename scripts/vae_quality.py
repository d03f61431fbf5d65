"""VAE reconstruction quality on motions it never saw, read off the joints (issue targets).

    python scripts/vae_quality.py VAE [--data data/unseen] [--max 300]

VAE is an exported checkpoint folder (any kind holding a VAE) or a Lightning ``.ckpt`` of the
vae stage. Motions (whole, up to 196 frames) are normalised with the VAE's own Mean/Std,
reconstructed from the posterior mean, and compared: root-relative MPJPE, global MPJPE, and
the data / reconstruction ratios of jitter and foot-lift rate, bone-length std; on a corpus made
by ``motionlcm data synth`` also the rule-based prompt checks of each motion's captioned actions
on the reconstruction (and on the motion itself), overall and per family.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from motionlcm.evaluation.joint_quality import joint_quality
from motionlcm.evaluation.metrics import mpjpe
from motionlcm.evaluation.prompt_checks import load_synth_meta, prompt_following
from motionlcm.models import motion_vae_from_config
from motionlcm.motion.features import features_to_joints


def load_vae(path: Path, data_root: Path):
    if path.is_dir():
        from motionlcm.checkpoint import build_vae, load_checkpoint
        ckpt = load_checkpoint(path)
        return build_vae(ckpt), ckpt.mean, ckpt.std
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own training checkpoint
    vae = motion_vae_from_config(dict(state["hyper_parameters"]["vae"]))
    vae.load_state_dict({k[4:]: v for k, v in state["state_dict"].items() if k.startswith("vae.")})
    mean, std = np.load(data_root / "Mean.npy"), np.load(data_root / "Std.npy")
    return vae.eval(), mean, std


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vae", type=Path)
    parser.add_argument("--data", type=Path, default=Path("data/unseen"))
    parser.add_argument("--train-data", type=Path, default=Path("data/corpus"), help="Mean/Std for a .ckpt")
    parser.add_argument("--max", type=int, default=300)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    vae, mean, std = load_vae(args.vae, args.train_data)
    names = sorted(p.stem for p in (args.data / "new_joint_vecs").glob("*.npy"))[: args.max]
    meta_path = args.data / "synth_meta.json"
    metas = load_synth_meta(meta_path) if meta_path.is_file() else None
    true_j, recon_j, rel, glob_err = [], [], [], []
    with torch.no_grad():
        for name in names:
            feats = torch.from_numpy(np.load(args.data / "new_joint_vecs" / f"{name}.npy")[:196]).float()
            x = ((feats - torch.from_numpy(mean)) / torch.from_numpy(std))[None]
            mask = torch.ones(1, len(feats), dtype=torch.bool)
            _, dist = vae.encode(x, mask, sample=False)
            recon = vae.decode(dist.mu, mask)[0] * torch.from_numpy(std) + torch.from_numpy(mean)
            jt, jr = features_to_joints(feats).numpy(), features_to_joints(recon).numpy()
            true_j.append(jt), recon_j.append(jr)
            rel.append(mpjpe(jr, jt)), glob_err.append(mpjpe(jr, jt, align_root=False))
    q_true, q_recon = joint_quality(true_j), joint_quality(recon_j)
    report = {
        "motions": len(names),
        "mpjpe_root_relative_mm": 1000 * float(np.mean(rel)),
        "mpjpe_global_mm": 1000 * float(np.mean(glob_err)),
        "jitter_data": q_true["jitter"], "jitter_recon": q_recon["jitter"],
        "jitter_ratio": q_recon["jitter"] / max(q_true["jitter"], 1e-12),
        "foot_lifts_data": q_true["foot_lifts_per_s"], "foot_lifts_recon": q_recon["foot_lifts_per_s"],
        "foot_lift_ratio": q_recon["foot_lifts_per_s"] / max(q_true["foot_lifts_per_s"], 1e-12),
        "bone_std_cm": q_recon["bone_std_cm"], "bone_std_max_cm": q_recon["bone_std_max_cm"],
        "skating_data": q_true["foot_skating"], "skating_recon": q_recon["foot_skating"],
    }
    if metas is not None:
        actions = [metas[name] for name in names]
        data_checks, recon_checks = prompt_following(true_j, actions), prompt_following(recon_j, actions)
        report["prompt_checks_data"] = data_checks["overall"]
        report["prompt_checks_recon"] = recon_checks["overall"]
        report["prompt_checks_recon_families"] = recon_checks["families"]
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
