"""Training: fine-tuning (:mod:`.finetune`), masked-LM pre-training (:mod:`.pretrain`), tiny
random-init models (:mod:`.tinymodel`), vocabulary trimming (:mod:`.trim`), XLA helpers
(:mod:`.xla`) and the Hugging Face plumbing they share (:mod:`.hf`).

Nothing is imported here: torch and transformers load only when a training function runs.
"""
