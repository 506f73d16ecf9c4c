#!/usr/bin/env python3
"""Continue a LoRA Studio job on a cluster: transformers' Trainer + PEFT, launched by `accelerate launch`.

Written by LoRA Studio's "Continue on a cluster" export; every setting comes from recipe.json beside
this file (README.md maps each studio setting to its value here). The data is the studio's own:
data/train.jsonl holds every row of every optimizer step (tagged `step`, `micro`) in the studio's
order and truncation, so each optimizer step here sees exactly the studio's micro-batches, whatever
the number of processes: each process takes rows rank::world of every micro-batch.

The loss of a step is the studio's: the sum of token cross-entropies over every micro-batch of the
step (on every process) divided by the number of trained tokens of the whole step. transformers'
default differs (see README.md), so `training_step` is overridden here.

A preference run (trainer.method dpo, ipo or orpo; trainer.beta) computes TRL's loss of the studio
(DPO sigmoid, IPO on token-averaged log-ratios, ORPO with its NLL): each row of data/train.jsonl is
one side (`side`: chosen or rejected) of a pair (`pair`) of its micro-batch; each process takes
pairs rank::world; the reference log-probs come from the same model with the adapter disabled.

A continued run (export --from-run) starts at recipe.json's trainer.start_step: data/train.jsonl
holds only the steps from there (under the run's step numbers), adapter_init/optimizer.safetensors
the run's AdamW moments, loaded into torch.optim.AdamW's state, and the learning-rate schedule
starts at that step of the whole run's schedule.

    accelerate launch --config_file accelerate.yaml train.py [--output-dir output] [--save-steps N]
    torchrun --nproc_per_node 2 train.py --cpu --max-steps 5      # CPU, 2 processes, gloo
"""
import argparse
import contextlib
import json
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from peft import PeftModel
from torch.utils.data import DataLoader, Dataset
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed

HERE = Path(__file__).resolve().parent
RECIPE = json.loads((HERE / "recipe.json").read_text())

# The studio's schedule names as transformers' lr_scheduler_type (the same formulas).
SCHEDULERS = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}
# A continued run's AdamW moments: tensor "<PEFT name>.<key>" for each key of torch.optim.AdamW's state.
MOMENT_KEYS = ("exp_avg", "exp_avg_sq")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def group_steps(rows, start, total_steps):
    """steps[k - start][j] = the rows of micro-batch j of optimizer step k, in the studio's order."""
    steps = [[] for _ in range(start, total_steps)]
    for row in rows:
        if not start <= row["step"] < total_steps:
            raise SystemExit(f"data/train.jsonl: step {row['step']} is outside the recipe's steps {start}..{total_steps - 1}")
        micro = steps[row["step"] - start]
        while len(micro) <= row["micro"]:
            micro.append([])
        micro[row["micro"]].append(row)
    for i, micro in enumerate(steps):
        if not micro or any(not m for m in micro):
            raise SystemExit(f"data/train.jsonl: step {start + i} has an empty micro-batch (the file is incomplete)")
    return steps


def load_optimizer_state(optimizer, model, path, step):
    """A continued run's AdamW state: each LoRA parameter's moments, found by its PEFT name, and the step."""
    from safetensors import safe_open  # installed with transformers

    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    adapter = model.active_adapter
    with safe_open(str(path), framework="pt") as f:
        saved = int(f.metadata()["step"])
        if saved != step:
            raise SystemExit(f"{path}: its step is {saved}, recipe.json's start_step {step}")
        left = set(f.keys())
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if id(p) not in groups:
                raise SystemExit(f"{name} is trained but not in the optimizer (FSDP and DeepSpeed are not supported with a continued run)")
            key = name.replace(f".{adapter}.", ".")  # PEFT's saved names drop the adapter's name
            g = groups[id(p)]
            # torch keeps AdamW's step as a tensor on the CPU unless fused or capturable.
            on = p.device if g.get("fused") or g.get("capturable") else "cpu"
            state = {"step": torch.tensor(float(step), dtype=torch.float32, device=on)}
            for m in MOMENT_KEYS:
                if f"{key}.{m}" not in left:
                    raise SystemExit(f"{path}: no tensor {key}.{m} for the trained parameter {name}")
                t = f.get_tensor(f"{key}.{m}")
                if t.shape != p.shape:
                    raise SystemExit(f"{path}: {key}.{m} has shape {list(t.shape)}, the parameter {list(p.shape)}")
                state[m] = t.to(device=p.device, dtype=p.dtype)
                left.discard(f"{key}.{m}")
            optimizer.state[p] = state
        if left:
            raise SystemExit(f"{path}: {len(left)} tensor(s) match no trained parameter, e.g. {sorted(left)[0]}")


def counted_tokens(rows):
    """Trained tokens of rows: labels[t+1] != -100 (position t predicts token t+1)."""
    return sum(sum(1 for y in r["labels"][1:] if y != -100) for r in rows)


def pad_rows(rows, pad_id, device):
    """Right-padded input_ids, attention_mask, labels (the studio pads on the right too)."""
    if not rows:  # a process with no row in this micro-batch still joins the gradient all-reduce
        rows = [{"input_ids": [pad_id, pad_id], "labels": [-100, -100]}]
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        mask[i, :n] = 1
        labels[i, :n] = torch.tensor(r["labels"])
    return ids.to(device), mask.to(device), labels.to(device)


def token_loss_sum(model, ids, mask, labels):
    """Sum of the cross-entropies of the trained tokens (f32), always part of the autograd graph."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1, :].float()
    target = labels[:, 1:]
    keep = target.ne(-100).reshape(-1).to(logits.dtype)
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.clamp_min(0).reshape(-1), reduction="none")
    return (ce * keep).sum()


def sequence_logps(model, rows, pad_id, device):
    """Per row: the sum of log p(token) over its trained tokens (the SFT loss's shift) and their count."""
    ids, mask, labels = pad_rows(rows, pad_id, device)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1, :].float()
    target = labels[:, 1:]
    keep = target.ne(-100)
    logp = torch.log_softmax(logits, -1).gather(-1, target.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (logp * keep).sum(-1), keep.sum(-1).to(logits.dtype)


def pairs_of(rows):
    """A micro-batch's rows as its pairs [(chosen, rejected)], in the studio's pair order."""
    pairs = {}
    for r in rows:
        pairs.setdefault(r["pair"], {})[r["side"]] = r
    return [(pairs[k]["chosen"], pairs[k]["rejected"]) for k in sorted(pairs)]


def preference_loss(model, peft_model, pairs, method, beta, pad_id, device, pair_scale, nll_scale):
    """TRL's loss of `pairs` as the studio computes it: this share of the step's mean over pairs."""
    rows = [c for c, _ in pairs] + [r for _, r in pairs]
    logp, n = sequence_logps(model, rows, pad_id, device)
    p = len(pairs)
    pc, pr, nc, nr = logp[:p], logp[p:], n[:p], n[p:]
    if method == "orpo":
        ac, ar = pc / nc, pr / nr
        log_odds = (ac - ar) - (torch.log1p(-torch.exp(ac)) - torch.log1p(-torch.exp(ar)))
        return -pc.sum() * nll_scale - beta * F.logsigmoid(log_odds).sum() * pair_scale
    with torch.no_grad(), peft_model.disable_adapter():  # the reference: the base model alone
        ref, _ = sequence_logps(peft_model, rows, pad_id, device)
    dc, dr = pc - ref[:p], pr - ref[p:]
    if method == "ipo":
        return ((dc / nc - dr / nr - 1 / (2 * beta)) ** 2).sum() * pair_scale
    return -F.logsigmoid(beta * (dc - dr)).sum() * pair_scale


class StepIndex(Dataset):
    """Item i is optimizer step start + i: the Trainer's loader must neither shuffle nor shard it."""

    def __init__(self, start, total):
        self.start = start
        self.n = total - start

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"step": torch.tensor(self.start + i)}


def only_item(items):
    return items[0]


class StudioTrainer(Trainer):
    """transformers' Trainer with the studio's batches and loss normalisation per optimizer step."""

    def __init__(self, *args, steps, start, pad_id, optimizer_state=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = steps
        self.start = start
        self.optimizer_state = optimizer_state
        self.method = RECIPE["trainer"]["method"]
        self.beta = RECIPE["trainer"]["beta"]
        # SFT: trained tokens of each step; a preference method: its pairs and its chosen tokens.
        chosen = lambda micro: [r for m in micro for r in m if r.get("side") == "chosen"]  # noqa: E731
        self.pairs = [len(chosen(micro)) for micro in steps]
        self.counted = [counted_tokens(chosen(micro) if self.method != "sft" else [r for m in micro for r in m]) for micro in steps]
        for i, n in enumerate(self.counted):
            if n == 0:  # the studio refuses such a step too
                raise SystemExit(f"data/train.jsonl: step {start + i} has no trained token (every shifted label is -100)")
        self.pad_id = pad_id
        self.step_losses = []

    def create_optimizer(self):
        # A continued run's moments; a --resume of this script's own checkpoint loads optimizer.pt over them.
        fresh = self.optimizer is None
        optimizer = super().create_optimizer()
        if fresh and self.optimizer_state is not None:
            load_optimizer_state(optimizer, self.model, self.optimizer_state, self.start)
        return optimizer

    def get_train_dataloader(self):
        # One item per optimizer step, in order, on every process (each process takes its rows below).
        # Not passed through accelerate's prepare: that would shard the steps over the processes.
        return DataLoader(self.train_dataset, batch_size=1, shuffle=False, collate_fn=only_item)

    def training_step(self, model, inputs, num_items_in_batch=None):
        model.train()
        k = int(inputs["step"]) - self.start
        micro = self.steps[k]
        world = self.accelerator.num_processes
        rank = self.accelerator.process_index
        # DDP averages gradients over processes: scale by world so the result is sum / counted.
        scale = world / self.counted[k]
        device = self.args.device
        step_loss = torch.zeros((), device=device)
        for j, rows in enumerate(micro):
            last = j == len(micro) - 1
            with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                with self.compute_loss_context_manager():
                    if self.method == "sft":
                        ids, mask, labels = pad_rows(rows[rank::world], self.pad_id, device)
                        loss = token_loss_sum(model, ids, mask, labels) * scale
                    elif pairs_of(rows)[rank::world]:
                        peft_model = self.accelerator.unwrap_model(model)
                        loss = preference_loss(
                            model, peft_model, pairs_of(rows)[rank::world], self.method, self.beta, self.pad_id, device,
                            pair_scale=world / self.pairs[k], nll_scale=scale,
                        )
                    else:  # no pair for this process: it still joins the gradient all-reduce
                        ids, mask, labels = pad_rows([], self.pad_id, device)
                        loss = token_loss_sum(model, ids, mask, labels) * 0
                self.accelerator.backward(loss)
            step_loss += loss.detach()
        # The step's loss as the studio reports it (mean over processes of world * local sum / counted).
        mean = self.accelerator.reduce(step_loss.clone(), reduction="mean")
        if self.accelerator.is_main_process:
            self.step_losses.append(float(mean))
        return step_loss


def validation_loss(model, rows, pad_id, device):
    """The studio's validation loss: the mean over validation batches of each batch's loss (token mean, or pair mean)."""
    batches = {}
    for r in rows:
        batches.setdefault(r["batch"], []).append(r)
    if not batches:
        return None
    model.eval()
    total = 0.0
    t = RECIPE["trainer"]
    peft_model = model.module if hasattr(model, "module") else model
    with torch.no_grad():
        for b in sorted(batches):
            if t["method"] != "sft":
                pairs = pairs_of(batches[b])
                chosen = counted_tokens([c for c, _ in pairs])
                total += float(preference_loss(model, peft_model, pairs, t["method"], t["beta"], pad_id, device, 1 / len(pairs), 1 / chosen))
                continue
            ids, mask, labels = pad_rows(batches[b], pad_id, device)
            total += float(token_loss_sum(model, ids, mask, labels)) / counted_tokens(batches[b])
    return total / len(batches)


def dtype_kwargs(name):
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    # transformers 4.56 renamed torch_dtype to dtype.
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def source_dataset():
    """The Hub dataset split the studio read (data.hub_dataset), at the commit it read, for those who re-tokenize."""
    hub = RECIPE["data"].get("hub_dataset")
    if not hub:
        raise SystemExit(f"recipe.json names no Hub dataset: the source is data/{RECIPE['data']['source']}")
    from datasets import load_dataset

    return load_dataset(hub["id"], hub["config"], split=hub["split"], revision=hub["revision"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="output")
    parser.add_argument("--save-steps", type=int, default=0, help="checkpoint every N steps (0: only the final adapter)")
    parser.add_argument("--resume", default=None, help="a checkpoint folder of --output-dir to continue from")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N more steps (the schedule keeps the recipe's length)")
    parser.add_argument("--dtype", default=RECIPE["model"]["dtype"], choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--cpu", action="store_true", help="train on the CPU (torchrun --nproc_per_node 2: gloo)")
    parser.add_argument("--attn", default="eager", help="attn_implementation (eager is closest to the studio; sdpa is faster)")
    parser.add_argument("--source", action="store_true", help="load the source Hub dataset (recipe.json data.hub_dataset) and print its rows, then stop")
    args = parser.parse_args()
    if args.source:
        rows = source_dataset()
        print(json.dumps({"rows": len(rows), "columns": rows.column_names}))
        return

    t = RECIPE["trainer"]
    total_steps = t["max_steps"]
    start = t.get("start_step", 0)
    set_seed(t["seed"])
    if args.dtype == "float32":  # the studio computes in f32: no TF32 matmuls
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    steps = group_steps(read_jsonl(HERE / "data" / "train.jsonl"), start, total_steps)
    base = RECIPE["model"]
    model = AutoModelForCausalLM.from_pretrained(
        base["name_or_path"], revision=base["revision"], attn_implementation=args.attn, **dtype_kwargs(args.dtype)
    )
    # The studio's initial adapter (same A, B, r, alpha, dropout, targets, patterns and layers).
    model = PeftModel.from_pretrained(model, str(HERE / "adapter_init"), is_trainable=True)
    if t["gradient_checkpointing"]:
        model.enable_input_require_grads()

    training_args = TrainingArguments(
        output_dir=args.output_dir,
        max_steps=args.max_steps if args.max_steps is not None else total_steps - start,
        per_device_train_batch_size=1,  # one item = one whole optimizer step (see StudioTrainer)
        gradient_accumulation_steps=1,  # the step's micro-batches are accumulated in training_step
        learning_rate=t["learning_rate"],
        lr_scheduler_type=SCHEDULERS[t["schedule"]],
        warmup_steps=t["warmup_steps"],
        optim="adamw_torch",
        adam_beta1=t["adam_beta1"],
        adam_beta2=t["adam_beta2"],
        adam_epsilon=t["adam_epsilon"],
        weight_decay=t["weight_decay"],
        max_grad_norm=t["max_grad_norm"],  # 0: no clipping, in both
        seed=t["seed"],
        data_seed=t["seed"],
        gradient_checkpointing=t["gradient_checkpointing"],
        gradient_checkpointing_kwargs={"use_reentrant": False} if t["gradient_checkpointing"] else None,
        logging_steps=1,
        save_strategy="steps" if args.save_steps > 0 else "no",
        save_steps=max(1, args.save_steps),
        report_to=[],
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,
        tf32=False if args.dtype == "float32" else None,
        bf16=args.dtype == "bfloat16",
        fp16=args.dtype == "float16",
        dataloader_num_workers=0,
        use_cpu=args.cpu,
    )
    optimizer_state = HERE / t["optimizer_state"] if t.get("optimizer_state") else None
    trainer = StudioTrainer(
        model=model,
        args=training_args,
        train_dataset=StepIndex(start, total_steps),
        steps=steps,
        start=start,
        pad_id=RECIPE["data"]["pad_id"],
        optimizer_state=optimizer_state,
    )
    # A schedule as long as the studio's run even when --max-steps stops earlier, at the run's step.
    trainer.create_scheduler = _scheduler_for(trainer, total_steps, start)
    trainer.train(resume_from_checkpoint=args.resume)

    val = validation_loss(trainer.model_wrapped, read_jsonl(HERE / "data" / "validation.jsonl"), RECIPE["data"]["pad_id"], training_args.device)
    out = Path(args.output_dir)
    trainer.save_model(str(out / "adapter"))  # a PEFT adapter (every process joins: FSDP gathers it)
    if trainer.accelerator.is_main_process:
        summary = {"steps": len(trainer.step_losses), "losses": trainer.step_losses, "val_loss": val}
        (out / "losses.json").write_text(json.dumps(summary) + "\n")
        print(json.dumps(summary))


def _scheduler_for(trainer, total_steps, start):
    original = trainer.create_scheduler

    def create_scheduler(num_training_steps, optimizer=None):
        fresh = trainer.lr_scheduler is None
        scheduler = original(num_training_steps=total_steps, optimizer=optimizer)
        if fresh and start:
            # The learning rate of step `start`, as the run's schedule gives it (a --resume of this
            # script's own checkpoint then loads scheduler.pt over it).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": meant here
                for _ in range(start):
                    scheduler.step()
        return scheduler

    return create_scheduler


if __name__ == "__main__":
    main()
