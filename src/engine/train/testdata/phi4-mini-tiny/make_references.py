"""Reference fixtures for Phi-4-mini-shaped tiny Phi3ForCausalLM configs: partial_rotary_factor 0.75,
rope_scaling longrope (short / long factors, the attention factor from max_position_embeddings /
original_max_position_embeddings), tied LM head, fused qkv_proj / gate_up_proj under LoRA.

Run with ../shared/hfstack's venv (PyTorch 1.13.1, transformers 4.51.3, PEFT 0.15.2, CPU):
  HF_HUB_OFFLINE=1 $VENV/bin/python make_references.py
It writes, per case, the same files as ../shared/fixtures/reference/* (model/, adapter_init/,
adapter_final/, batch.json, reference.json, reference.safetensors), computed in float64 and stored
as float32, with the recipe of those fixtures (r 4, alpha 8, AdamW lr 1e-2, clip 1, 5 steps on one
batch). The batch is tiny-phi3's (2 x 20, row 2 right-padded by 5):
  - longrope-long:  original_max_position_embeddings 16 < 20 tokens: transformers takes long_factor;
  - longrope-short: original_max_position_embeddings 32 >= 20 tokens: short_factor.
"""
import json
import math
import os
import shutil

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import Phi3Config, Phi3ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = {
    "input_ids": [
        [389, 384, 240, 377, 335, 117, 238, 212, 284, 59, 334, 298, 255, 385, 438, 351, 388, 86, 82, 406],
        [210, 458, 306, 377, 227, 501, 235, 55, 54, 96, 350, 108, 422, 98, 308, 0, 0, 0, 0, 0],
    ],
    "attention_mask": [[1] * 20, [1] * 15 + [0] * 5],
}
BATCH["labels"] = [
    [-100] * 6 + BATCH["input_ids"][0][6:],
    [-100] * 6 + BATCH["input_ids"][1][6:15] + [-100] * 5,
]
TARGETS = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
LR, STEPS, CLIP = 1e-2, 5, 1.0


def config(original_max: int) -> Phi3Config:
    # head_dim 16, partial_rotary_factor 0.75: 12 rotated dims, 6 frequencies per factor list.
    return Phi3Config(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        original_max_position_embeddings=original_max,
        partial_rotary_factor=0.75,
        rope_theta=10000.0,
        rope_scaling={
            "type": "longrope",
            "short_factor": [1.0, 1.3, 1.9, 2.6, 4.1, 6.0],
            "long_factor": [1.0, 2.2, 4.5, 9.0, 17.0, 31.0],
        },
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        sliding_window=None,
        attn_implementation="eager",
    )


def loss_of(model, ids, mask, labels):
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    logits = out.logits
    lg = logits[:, :-1].reshape(-1, logits.shape[-1])
    lb = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(lg, lb, ignore_index=-100), out


def make(name: str, original_max: int, seed: int) -> None:
    torch.manual_seed(seed)
    cfg = config(original_max)
    base = Phi3ForCausalLM(cfg).double()
    # Larger than the 0.02 init so that RoPE and the LoRA sites bend the logits visibly.
    with torch.no_grad():
        for n, p in base.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0, 0.15)
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    base.float().save_pretrained(os.path.join(out, "model"), safe_serialization=True)
    base.double()
    lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS, bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, lcfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)  # nonzero B: every LoRA gradient is nonzero at step 1
    model.double()
    model.save_pretrained(os.path.join(out, "adapter_init"))
    ids = torch.tensor(BATCH["input_ids"])
    mask = torch.tensor(BATCH["attention_mask"])
    labels = torch.tensor(BATCH["labels"])

    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    tensors = {}
    losses, norms = [], []
    for step in range(STEPS):
        opt.zero_grad()
        loss, fwd = loss_of(model, ids, mask, labels)
        loss.backward()
        if step == 0:
            tensors["logits"] = fwd.logits.detach().float().contiguous()
            for i, h in enumerate(fwd.hidden_states):
                tensors[f"hidden_states.{i}"] = h.detach().float().contiguous()
            for n, p in model.named_parameters():
                if p.requires_grad:
                    key = n.replace(".default", "")
                    tensors[f"grad.{key}"] = p.grad.detach().float().contiguous()
        norm = torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], CLIP)
        losses.append(float(loss))
        norms.append(float(norm))
        opt.step()
    model.eval()
    with torch.no_grad():
        final_loss, fwd = loss_of(model, ids, mask, labels)
        tensors["logits_after_training"] = fwd.logits.float().contiguous()
    save_file(tensors, os.path.join(out, "reference.safetensors"))
    model.save_pretrained(os.path.join(out, "adapter_final"))
    for d in ("adapter_init", "adapter_final"):
        readme = os.path.join(out, d, "README.md")
        if os.path.exists(readme):
            os.remove(readme)
        # Stored as float32, as the shared fixtures are (the computation ran in float64).
        st = os.path.join(out, d, "adapter_model.safetensors")
        save_file({k: v.float().contiguous() for k, v in load_file(st).items()}, st, metadata={"format": "pt"})
    with open(os.path.join(out, "batch.json"), "w") as f:
        json.dump(BATCH, f)
    rope = cfg.rope_scaling
    factor = cfg.max_position_embeddings / cfg.original_max_position_embeddings
    recipe = {
        "model_family": f"phi4-mini-tiny/{name}",
        "architecture": "Phi3ForCausalLM",
        "what": "partial_rotary_factor 0.75 (12 of 16 dims), longrope "
        + ("long_factor (20 tokens > original_max_position_embeddings %d)" % original_max if 20 > original_max else "short_factor (20 tokens <= original_max_position_embeddings %d)" % original_max)
        + ", attention factor %.12f, tied head, fused qkv_proj / gate_up_proj" % math.sqrt(1 + math.log(factor) / math.log(original_max)),
        "rope_scaling": rope,
        "lora": {"r": 4, "lora_alpha": 8, "target_modules": TARGETS, "lora_dropout": 0.0, "bias": "none"},
        "loss": "mean token cross-entropy over positions whose shifted label != -100 (logits[:, :-1] vs labels[:, 1:])",
        "optimizer": {"type": "torch.optim.AdamW", "lr": LR, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "schedule": "constant", "grad_clip_max_norm": CLIP, "steps": STEPS, "same_batch_every_step": True},
        "compute_dtype": "float64 (stored float32)",
        "attention": "eager",
        "initial_loss": losses[0],
        "initial_grad_norm": norms[0],
        "losses_per_step": losses,
        "grad_norms_per_step_before_clip": norms,
        "final_loss": float(final_loss),
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "peft": __import__("peft").__version__,
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(recipe, f, indent=1)
    print(name, "loss", losses, "norms", norms)


if __name__ == "__main__":
    make("longrope-long", 16, 1)
    make("longrope-short", 32, 2)
