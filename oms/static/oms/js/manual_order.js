/* Manual order entry: customer lookup by phone with address autofill, SKU autocomplete with price and
   stock, live totals, and "add a line". Plain JS, no build step. The server re-validates everything. */
(function () {
  "use strict";
  const form = document.getElementById("oms-manual-order");
  if (!form) return;
  const i18n = JSON.parse(document.getElementById("oms-i18n").textContent);
  const byName = (name) => form.querySelector('[name="' + name + '"]');
  const addressChoice = document.getElementById("oms-address-choice");
  const status = document.getElementById("oms-customer-status");
  const skuCache = {};
  let addresses = [];

  function money(value) {
    const n = parseFloat(value);
    return isNaN(n) ? 0 : n;
  }

  function fillAddress(address) {
    ["receiver_name", "receiver_phone", "province", "city", "district", "street", "postcode"].forEach((key) => {
      const input = byName(key);
      if (input) input.value = address[key] || "";
    });
  }

  async function lookupCustomer() {
    const phone = byName("buyer_phone").value.trim();
    if (phone.length < 7) return;
    const response = await fetch(form.dataset.customerUrl + "?phone=" + encodeURIComponent(phone), {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const data = await response.json();
    addressChoice.innerHTML = "";
    addresses = data.addresses || [];
    if (!data.found) {
      status.textContent = i18n.new;
      addressChoice.add(new Option(i18n.none, ""));
      if (!byName("receiver_phone").value) byName("receiver_phone").value = data.phone;
      return;
    }
    status.textContent = i18n.found + ": " + (data.customer.name || data.phone) + " · " + data.orders + " " + i18n.orders;
    if (!byName("buyer_name").value) byName("buyer_name").value = data.customer.name || "";
    if (!addresses.length) addressChoice.add(new Option(i18n.none, ""));
    addresses.forEach((address, index) => addressChoice.add(new Option(address.label + " (" + address.use_count + ")", index)));
    if (addresses.length) fillAddress(addresses[0]);
  }

  async function lookupSku(term) {
    const warehouse = byName("warehouse") ? byName("warehouse").value : "";
    const key = term + "|" + warehouse;
    if (!skuCache[key]) {
      const url = form.dataset.skuUrl + "?q=" + encodeURIComponent(term) + "&warehouse=" + encodeURIComponent(warehouse);
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      skuCache[key] = response.ok ? (await response.json()).results : [];
    }
    return skuCache[key];
  }

  async function onSkuInput(event) {
    const input = event.target;
    const row = input.closest("tr");
    const term = input.value.trim();
    if (!term) return;
    const results = await lookupSku(term);
    const list = document.getElementById("sku-options");
    list.innerHTML = "";
    results.forEach((p) => list.appendChild(new Option(p.sku + " " + p.name + " ¥" + p.price, p.sku)));
    const exact = results.find((p) => p.sku.toLowerCase() === term.toLowerCase());
    row.dataset.available = exact ? exact.available : "";
    row.querySelector(".oms-line-name").textContent = exact ? exact.name : "";
    if (exact) {
      const price = row.querySelector("[data-price]");
      if (!price.value || event.type === "change") price.value = exact.price;
    }
    recompute();
  }

  function recompute() {
    let subtotal = 0;
    form.querySelectorAll("tr.oms-line").forEach((row) => {
      const sku = row.querySelector("[data-sku]").value.trim();
      const qty = parseInt(row.querySelector("[data-qty]").value || "0", 10) || 0;
      const price = money(row.querySelector("[data-price]").value);
      const discount = money(row.querySelector("[data-discount]").value);
      const total = sku ? Math.max(price * qty - discount, 0) : 0;
      subtotal += total;
      row.querySelector(".oms-line-total").textContent = total.toFixed(2);
      const stock = row.querySelector(".oms-line-stock");
      if (!sku) {
        stock.textContent = "";
      } else if (row.dataset.available === "") {
        stock.textContent = i18n.unknown;
        stock.className = "oms-line-stock oms-error";
      } else if (row.dataset.available !== undefined) {
        const available = parseInt(row.dataset.available, 10);
        stock.textContent = i18n.available + ": " + available + (available < qty ? " · " + i18n.short : "");
        stock.className = "oms-line-stock " + (available < qty ? "oms-error" : "oms-ok");
      }
    });
    const total = subtotal + money(byName("shipping_fee").value) - money(byName("discount").value);
    document.getElementById("oms-subtotal").textContent = subtotal.toFixed(2);
    document.getElementById("oms-total").textContent = Math.max(total, 0).toFixed(2);
  }

  function addLine() {
    const totalForms = byName("lines-TOTAL_FORMS");
    const index = parseInt(totalForms.value, 10);
    const rows = form.querySelectorAll("tr.oms-line");
    const clone = rows[rows.length - 1].cloneNode(true);
    clone.querySelectorAll("input").forEach((input) => {
      input.name = input.name.replace(/lines-\d+-/, "lines-" + index + "-");
      input.id = input.id.replace(/lines-\d+-/, "lines-" + index + "-");
      input.value = input.dataset.qty ? "1" : "";
    });
    clone.querySelectorAll(".oms-error").forEach((node) => node.remove());
    clone.querySelector(".oms-line-name").textContent = "";
    delete clone.dataset.available;
    rows[rows.length - 1].after(clone);
    totalForms.value = index + 1;
    recompute();
  }

  byName("buyer_phone").addEventListener("change", lookupCustomer);
  byName("buyer_phone").addEventListener("blur", lookupCustomer);
  addressChoice.addEventListener("change", () => {
    if (addressChoice.value !== "" && addresses[addressChoice.value]) fillAddress(addresses[addressChoice.value]);
  });
  form.addEventListener("input", (event) => {
    if (event.target.matches("[data-sku]")) onSkuInput(event);
    else recompute();
  });
  form.addEventListener("change", (event) => {
    if (event.target.matches("[data-sku]")) onSkuInput(event);
  });
  document.getElementById("oms-add-line").addEventListener("click", addLine);
  form.querySelectorAll("[data-sku]").forEach((input) => {
    if (input.value) onSkuInput({ target: input, type: "init" });
  });
  recompute();
})();
